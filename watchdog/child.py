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

import psutil

from watchdog.config import AppConfig
from watchdog.hostcheck import locate
from watchdog.listener import with_socket
from watchdog.observations import ChildExit

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
MAX_LINE_BYTES = 16 * 1024
READ_CHUNK = 64 * 1024
STOP_POLL = 0.02
KILL_WAIT = 5.0
SETTLE_WAIT = 2.0  # for the reaper to collect a stopped child's status, and its output
MARK = "WATCHDOG_INSTANCE"  # names the watchdog instance a process was started by
# Ours to speak to systemd with; a child that saw them could confuse the service manager.
PRIVATE_ENV = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    MARK,  # set afresh for every child
)

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

OutputSink = Callable[[str, list[str]], None]


class SpawnError(Exception):
    """The command could not be started at all (not found, not executable, bad cwd)."""


def become_subreaper() -> bool:
    """Have orphans of the child's tree re-parented to us, so none escapes a stop."""
    return _libc is not None and _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


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
    healthy: bool = False
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
    env = {key: value for key, value in os.environ.items() if key not in PRIVATE_ENV}
    env.update(app.env)
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


def is_helper(pid: int) -> bool:
    """Whether `pid` is one of the watchdog's own helpers (an alert command), not the app's.

    Helpers stay in the watchdog's session (in a process group of their own); the app is
    started in a new session, and nothing it starts can ever join ours. So the session
    tells them apart from the first instant after fork, with no pid to register.
    """
    try:
        return os.getsid(pid) == os.getsid(0)
    except OSError:
        return False


def reap_all() -> list[tuple[int, int]]:
    """Collect every ended child of the app's (ours or adopted orphans): (pid, wait status).

    Not waitpid(-1): that would also take the exit status of a helper from the asyncio
    watcher that is waiting for it.
    """
    reaped = []
    try:
        children = psutil.Process().children()
    except (psutil.Error, OSError):
        return reaped
    for child in children:
        if is_helper(child.pid):
            continue
        try:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            continue
        if pid:
            reaped.append((pid, status))
    return reaped


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _children_of(pid: int) -> list[int]:
    """The kernel's own list of `pid`'s children, from each of its threads."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children", "rb") as children:
            found.extend(int(child) for child in children.read().split())
    return found


def _descendant_pids() -> list[int]:
    """Our descendants, walked down the kernel's children lists.

    psutil's children(recursive=True) reads the parent of every process on the host: 2.4 ms
    with 68 processes here, more on a busy server. The walk costs a few reads per process
    of the tree. Without /proc/<pid>/task/<tid>/children (a kernel built without
    CONFIG_PROC_CHILDREN), psutil it is.
    """
    try:
        return _walk(_children_of(os.getpid()))
    except FileNotFoundError:
        return [p.pid for p in psutil.Process().children(recursive=True)]


def _walk(pending: list[int]) -> list[int]:
    found = []
    while pending:
        pid = pending.pop()
        found.append(pid)
        with contextlib.suppress(OSError, ValueError):  # gone since: nothing below it
            pending.extend(_children_of(pid))
    return found


def app_pids() -> list[int]:
    """The pids of the app's whole tree (see app_processes); [] when /proc cannot be read."""
    try:
        return [pid for pid in _descendant_pids() if not is_helper(pid)]
    except (psutil.Error, OSError, ValueError):
        return []


def app_processes() -> list[psutil.Process]:
    """The app's whole tree, zombies included: every descendant that is not our helper.

    We are a subreaper with one child, so that is the child, its descendants, and the
    orphans they left, which were re-parented to us. Reading /proc may fail (EMFILE
    under an fd flood): then the tree is unknown for now, never a crash.
    """
    processes = []
    try:
        for pid in _descendant_pids():
            if not is_helper(pid):
                with contextlib.suppress(psutil.Error):
                    processes.append(psutil.Process(pid))
    except (psutil.Error, OSError, ValueError):
        return []
    return processes


def _our_descendants(spare: int | None = None) -> list[psutil.Process]:
    live = [process for process in app_processes() if _alive(process)]
    if spare is None:
        return live
    spared = set(tree_of(spare))
    return [p for p in live if p.pid not in spared and not _in_session(p.pid, spare)]


def tree_of(pid: int) -> list[int]:
    """`pid` and its descendants, from the kernel's children lists."""
    return _walk([pid])


def _in_session(pid: int, session: int) -> bool:
    try:
        return os.getsid(pid) == session
    except OSError:
        return False


def freeze_tree() -> None:
    """SIGSTOP to the app's whole tree: it holds still (memory too) until stopped for good;
    stop_tree follows its stop signal with SIGCONT, so a frozen tree still stops gracefully."""
    for process in _our_descendants():
        _send(process, signal.SIGSTOP)


def _send(process: psutil.Process, signum: int) -> None:
    with contextlib.suppress(psutil.Error):
        process.send_signal(signum)


def _in_group(process: psutil.Process, pgid: int | None) -> bool:
    try:
        return pgid is not None and os.getpgid(process.pid) == pgid
    except OSError:
        return False


def _signal_group(pgid: int | None, signum: int, live: list[psutil.Process]) -> bool:
    # Once its leader is reaped and its last member gone, a group id can be reused by an
    # unrelated session: signal the group only while one of our own descendants is in it.
    if pgid is None or not any(_in_group(process, pgid) for process in live):
        return False
    try:
        os.killpg(pgid, signum)
    except OSError:
        return False
    return True


def stop_bound(stop_timeout: float) -> float:
    """The longest stopping a tree may take (grace, SIGKILL wait, reaping), with room."""
    return stop_timeout + KILL_WAIT + 2 * SETTLE_WAIT + 5.0


@dataclass(frozen=True, slots=True)
class StopReport:
    """What stopping a tree took: how many got the stop signal, how many needed SIGKILL."""

    signalled: int
    killed: int
    survivors: int
    took: float


async def stop_tree(
    pgid: int | None,
    stop_signal: int,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    spare: int | None = None,
) -> StopReport:
    """Stop signal to the group and every descendant, wait `timeout`, then SIGKILL the rest.

    `spare`: a child whose tree and session are left alone (the new one, in an overlap).
    """
    started = clock()
    signalled: dict[int, psutil.Process] = {}

    def signal_new(signum: int) -> list[psutil.Process]:
        live = _our_descendants(spare)
        for process in live:
            if process.pid not in signalled:
                signalled[process.pid] = process
                _send(process, signum)
                _send(process, signal.SIGCONT)
        return live

    live = _our_descendants(spare)
    if _signal_group(pgid, stop_signal, live):
        _signal_group(pgid, signal.SIGCONT, live)  # a stopped process must wake to see it
        # A second stop signal makes servers such as uvicorn skip their graceful drain.
        signalled.update((p.pid, p) for p in live if _in_group(p, pgid))
    live = signal_new(stop_signal)
    while live and clock() - started < timeout:
        await asyncio.sleep(STOP_POLL)
        live = signal_new(stop_signal)
    killed = len(live)
    kill_started = clock()
    while live and clock() - kill_started < KILL_WAIT:
        _signal_group(pgid, signal.SIGKILL, live)
        for process in live:
            _send(process, signal.SIGKILL)
        await asyncio.sleep(STOP_POLL)
        live = _our_descendants(spare)
    return StopReport(len(signalled), killed, len(live), clock() - started)
