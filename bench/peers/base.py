"""What every peer shares: the settings, the handle, the fault app, and a clean-up that
finds every process a run started (tagged through the environment) and kills it.

Each tool module (`watchdog_peer`, `supervisord_peer`, `monit_peer`, `pm2_peer`) has:

    NAME                          the tool's name in tables
    unavailable() -> str | None   why the tool cannot run here, or None
    start(app_args, settings, workdir) -> Handle
    setup(settings) -> dict       the tool's settings as close as it allows, and its floors

and a `Handle` is started, healthy (its app answered /health) and owns everything below it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psutil

ROOT = Path(__file__).resolve().parents[2]
FAULT_APP = ROOT / "tests" / "apps" / "fault_app.py"
PYTHON = sys.executable
# Every process a run starts carries this variable (tools pass their environment on to
# their apps, apps to their grandchildren), so that clean-up finds it whoever its parent is.
TAG = "WATCHDOG_BENCH_RUN"
STARTUP_TIMEOUT = 30.0
# Every Run ever made, so that a last clean-up finds them even when a start failed halfway.
RUNS: list[Run] = []


@dataclass(frozen=True)
class Settings:
    """The settings asked of every tool; each module says how close it can get."""

    probe_interval: float = 1.0
    probe_timeout: float = 1.0
    max_failures: int = 3
    max_rss_mib: int = 200
    sample_interval: float = 1.0  # resources (RSS) check pace where a tool has one
    stop_timeout: float = 2.0  # stop signal -> this long -> SIGKILL


AGGRESSIVE = Settings()
GUIDE_PACE = Settings(probe_interval=60.0, probe_timeout=5.0, sample_interval=10.0)


class Handle(Protocol):
    """A running tool supervising one fault app on `url`."""

    url: str
    notes: list[str]

    def app_pid(self) -> int | None: ...
    def own_pids(self) -> list[int]: ...
    def restart(self) -> None: ...  # asks the tool to restart the app; returns at once
    def stop(self) -> None: ...


@dataclass
class Run:
    """One tool's working folder, port and tag, and the processes to reap at the end."""

    workdir: Path
    port: int = 0
    tag: str = field(default_factory=lambda: uuid.uuid4().hex)
    launched: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        RUNS.append(self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, TAG: self.tag, **extra}

    def app_command(self, app_args: Iterable[str]) -> list[str]:
        return [PYTHON, str(FAULT_APP), "--port", str(self.port), *app_args]

    def launch(self, argv: list[str], name: str, **extra_env: str) -> subprocess.Popen:
        """A tool process in a session of its own, output to `<name>.out` in the workdir."""
        with open(self.workdir / f"{name}.out", "ab") as output:
            process = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=self.env(**extra_env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.launched.append(process)
        return process

    def command(self, argv: list[str], timeout: float = 30.0, **extra_env: str) -> str:
        """Run a tool's CLI to the end (bounded), returning its output."""
        done = subprocess.run(
            argv,
            cwd=self.workdir,
            env=self.env(**extra_env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited {done.returncode}: {done.stdout}{done.stderr}")
        return done.stdout

    def tagged(self) -> list[psutil.Process]:
        """Every live process carrying this run's tag."""
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if process.pid != os.getpid() and process.environ().get(TAG) == self.tag:
                    found.append(process)
        return found

    def cleanup(self) -> None:
        """Kill whatever this run started and is still alive: tool, apps, grandchildren."""
        for process in self.launched:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.tagged():
            with contextlib.suppress(psutil.Error):
                process.kill()
        for process in self.launched:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def events(log: Path, name: str) -> list[dict]:
    """The events called `name` in a watchdog's JSON log file, so far."""
    found = []
    with contextlib.suppress(OSError):
        for line in log.read_text().splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line being written
            if event.get("event") == name:
                found.append(event)
    return found


def gone(pid: int) -> bool:
    """True once `pid` no longer runs (a zombie counts as gone: it was killed)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for(condition: Callable[[], Any], timeout: float, step: float = 0.01) -> Any:
    """The first truthy value of `condition` within `timeout` seconds, else TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(step)


def tree(pid: int) -> list[psutil.Process]:
    """`pid` and its descendants (those still alive)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def is_app(process: psutil.Process, port: int) -> bool:
    """The fault app serving `port` (not one of its grandchildren, not a tool's wrapper)."""
    try:
        argv = process.cmdline()
    except psutil.Error:
        return False
    return (
        process.status() != psutil.STATUS_ZOMBIE
        and any(arg.endswith("fault_app.py") for arg in argv)
        and str(port) in argv
    )


def app_below(roots: Iterable[int], port: int) -> int | None:
    """The pid of the fault app among the descendants of `roots`."""
    for root in roots:
        for process in tree(root):
            if is_app(process, port):
                return process.pid
    return None


def own_below(roots: Iterable[int], app_pid: int | None) -> list[int]:
    """The tool's own processes: `roots` and their descendants, less the app's tree."""
    app = {p.pid for p in tree(app_pid)} if app_pid else set()
    return sorted({p.pid for root in roots for p in tree(root)} - app)


def wait_started(handle: Handle, launched: subprocess.Popen | None = None) -> None:
    """Until the app answers /health and its pid is known; the tool must not exit meanwhile."""

    def ready() -> bool:
        if launched is not None and launched.poll() is not None:
            raise RuntimeError(f"the tool exited ({launched.returncode}) before its app was up")
        return answers(handle.url, 0.5) and handle.app_pid() is not None

    wait_for(ready, STARTUP_TIMEOUT, 0.05)


def end(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Ask a tool to exit with `sig`; its whole session gets SIGKILL if it takes too long."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


class LaunchedTool:
    """A peer whose main process the bench launched (`process`), which owns the app: its
    own processes are that one's tree, and stopping it ends the run."""

    run: Run
    process: subprocess.Popen
    requests: list[subprocess.Popen]

    def app_pid(self) -> int | None:
        return app_below([self.process.pid], self.run.port)

    def own_pids(self) -> list[int]:
        return own_below([self.process.pid], self.app_pid())

    def request(self, argv: list[str], name: str, **extra_env: str) -> None:
        """A CLI call to the running tool (e.g. restart), left to run; ended at stop."""
        self.requests.append(self.run.launch(argv, name, **extra_env))

    def stop(self) -> None:
        try:
            for request in self.requests:
                end(request, timeout=10)
            end(self.process, timeout=15)
        finally:
            self.run.cleanup()


LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def cpu_seconds(pid: int) -> float:
    """CPU time of `pid` (every thread, ended ones too) to the nanosecond, from its CPU
    clock, plus its reaped children's (e.g. memmon's `ps`), which the kernel keeps in ticks.
    /proc's own figures are 10 ms ticks: too coarse for a tool idling over a few seconds."""
    process = psutil.Process(pid)
    times = process.cpu_times()
    clock = ctypes.c_int()
    if LIBC.clock_getcpuclockid(pid, ctypes.byref(clock)) == 0:
        with contextlib.suppress(OSError):
            own = time.clock_gettime(clock.value)
            return own + times.children_user + times.children_system
    return times.user + times.system + times.children_user + times.children_system


def duration(seconds: float) -> str:
    """`1.5` -> `1500ms`: the watchdog's duration syntax, exact to the millisecond."""
    return f"{round(seconds * 1000)}ms"


def started(
    handle: Callable[..., Any], app_args: list[str], settings: Settings, workdir: Path
) -> Any:
    """A peer's handle, or nothing left behind when its start fails halfway."""
    run = Run(workdir)
    try:
        return handle(run, app_args, settings)
    except BaseException:
        run.cleanup()
        raise
