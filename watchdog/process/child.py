"""The child at the OS level: spawn it in its own session, pump its output, stop its whole tree."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from watchdog.config import AppConfig
from watchdog.config.envfile import EnvFileError, read_env_file
from watchdog.config.hostcheck import locate
from watchdog.config.identity import identity
from watchdog.core.observations import ChildExit
from watchdog.process.environ import MARK, public_environ
from watchdog.process.heldsocket import with_socket

PR_SET_PDEATHSIG = 1
MAX_LINE_BYTES = 16 * 1024
READ_CHUNK = 64 * 1024

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

OutputSink = Callable[[str, list[str]], None]


class SpawnError(Exception):
    """The command could not be started at all (not found, not executable, bad cwd)."""


APP_FD_LIMIT: tuple[int, int] | None = None  # the limits the app is started with


def raise_fd_limit() -> int:
    """Lift our soft open-file limit to the hard one; the app keeps the original.

    The soft limit (often 1024) guards old select()-based code; the watchdog uses none, and
    running out of descriptors would leave it unable to probe or read /proc.
    """
    global APP_FD_LIMIT  # noqa: PLW0603 - read in the forked child, before exec
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if APP_FD_LIMIT is None:
        APP_FD_LIMIT = (soft, hard)
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _die_with(parent_pid: int) -> Callable[[], None]:
    def in_child() -> None:
        if APP_FD_LIMIT is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, APP_FD_LIMIT)
        if _libc is None:
            return
        # SIGKILL, not TERM: the point is that an API whose watchdog died is never left
        # running unwatched, and a hung API would ignore anything gentler.
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the watchdog died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return in_child


class OutputPump:
    """Reads one pipe whenever it has data, without ever blocking the loop, line by line."""

    def __init__(self, stream_name: str, pipe: object, sink: OutputSink) -> None:
        self._name = stream_name
        self._pipe = pipe
        self._fd = pipe.fileno()  # type: ignore[attr-defined]
        self._sink = sink
        self._buffer = b""
        self.closed = asyncio.get_running_loop().create_future()
        os.set_blocking(self._fd, False)
        asyncio.get_running_loop().add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        while len(self._buffer) > MAX_LINE_BYTES:
            # A line with no end in sight is passed on in pieces rather than held forever.
            lines.append(self._buffer[:MAX_LINE_BYTES])
            self._buffer = self._buffer[MAX_LINE_BYTES:]
        self._emit(lines)

    def _emit(self, raw_lines: list[bytes]) -> None:
        pieces = [
            raw[start : start + MAX_LINE_BYTES]
            for raw in raw_lines
            for start in range(0, max(len(raw), 1), MAX_LINE_BYTES)
        ]
        if pieces:
            self._sink(self._name, [p.decode("utf-8", "replace").rstrip("\r") for p in pieces])

    def close(self) -> None:
        if self.closed.done():
            return
        if self._buffer:
            self._emit([self._buffer])
            self._buffer = b""
        asyncio.get_running_loop().remove_reader(self._fd)
        with contextlib.suppress(OSError):
            self._pipe.close()  # type: ignore[attr-defined]
        self.closed.set_result(None)


@dataclass
class Child:
    """One spawned child; `exited` resolves when the reaper collects its status."""

    pid: int
    generation: int
    started_at: float
    process: subprocess.Popen[bytes]
    pumps: list[OutputPump]
    exited: asyncio.Future[ChildExit] = field(repr=False)
    started_wall: float = field(default_factory=time.time)  # for a person, not for timing

    def record_exit(self, status: int, now: float) -> ChildExit:
        result = ChildExit.from_wait_status(self.pid, status, now)
        # Popen must never wait on this pid itself: we reaped it already.
        self.process.returncode = result.code if result.code is not None else -result.signal
        if not self.exited.done():
            self.exited.set_result(result)
        return result


def spawn(
    app: AppConfig,
    generation: int,
    sink: OutputSink,
    now: float,
    held: socket.socket | None = None,
    *,
    mark: str | None = None,
) -> Child:
    """Start the app's command in a new session with stdin from /dev/null.

    With a `held` socket, the app gets it as fd 3 the socket-activation way. `mark` goes
    into its environment as WATCHDOG_INSTANCE, inherited by its whole tree, so that a later
    watchdog of the same app can find what this one leaves behind if it is SIGKILLed.
    """
    env = public_environ()
    if app.env_file is not None:
        try:
            env.update(read_env_file(app.env_file))  # at every start: an edit applies on restart
        except EnvFileError as exc:
            raise SpawnError(f"app.env_file {exc}") from None
    env.update(app.env)
    who, problems = identity(app)
    if problems:
        key, expected, got = problems[0]
        raise SpawnError(f"app.{key}: expected {expected}, got {got}")
    if mark is not None:
        env[MARK] = mark
    command: list[str] = list(app.command)
    if held is not None:
        # The exec happens in a shim: a missing command must still fail here, plainly.
        if _missing(command[0], app, env):
            raise SpawnError(f"command not found: {command[0]}")
        command = with_socket(app.command, held.fileno(), app.name)
    try:
        process = subprocess.Popen(
            command,
            cwd=app.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            pass_fds=() if held is None else (held.fileno(),),
            user=who.uid,
            group=who.gid,
            extra_groups=who.groups,
            umask=-1 if app.umask is None else app.umask,
            # The loop's only other thread is asyncio's resolver pool, idle between
            # probes; the hook makes one prctl call and takes no Python-level lock.
            preexec_fn=_die_with(os.getpid()),  # noqa: PLW1509
        )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise SpawnError(_spawn_failure(exc, app)) from None
    pumps = [
        OutputPump("stdout", process.stdout, sink),
        OutputPump("stderr", process.stderr, sink),
    ]
    exited: asyncio.Future[ChildExit] = asyncio.get_running_loop().create_future()
    return Child(process.pid, generation, now, process, pumps, exited)


def _missing(program: str, app: AppConfig, env: dict[str, str]) -> bool:
    if not os.path.isdir(app.cwd):
        return False  # Popen's chdir fails first, and _spawn_failure names the cwd
    return locate(program, app.cwd, env.get("PATH", os.defpath)) is None


def _spawn_failure(exc: BaseException, app: AppConfig) -> str:
    # Popen reports a failed chdir with the cwd as given (a Path), an exec with the program.
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) == str(app.cwd):
        if isinstance(exc, FileNotFoundError):
            return f"app.cwd {app.cwd} does not exist"
        return f"app.cwd {app.cwd}: {(exc.strerror or str(exc)).lower()}"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {app.command[0]}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or app.command[0]}"
    return f"cannot start {app.command[0]}: {exc}"
