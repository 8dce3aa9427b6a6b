"""End to end: only the app's own answers count, one watchdog per app, and the control
commands signal nothing but that watchdog."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import fast_config, free_port, gone_or_zombie, poll, watchdog_command

STRANGER = (
    "import http.server, sys\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])),"
    " http.server.SimpleHTTPRequestHandler).serve_forever()\n"
)


@contextlib.contextmanager
def stranger_on(port: int, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A plain HTTP server that is not the app, answering 200 on every path of `port`."""
    (cwd / "health").write_text("ok")  # so that /health is a 200, as the app's would be
    process = subprocess.Popen(
        [sys.executable, "-c", STRANGER, str(port)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll(lambda: _listening(process.pid, port), timeout=10)
        yield process
    finally:
        process.kill()
        process.wait(5)


def _listening(pid: int, port: int) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(c.laddr.port == port for c in psutil.Process(pid).net_connections())
    return False


def test_a_stranger_on_the_port_stops_run_before_anything_starts(run_watchdog, tmp_path) -> None:
    """A server already on the health URL's port exits `run` with 2, naming it; no child."""
    port = free_port()
    with stranger_on(port, tmp_path) as stranger:
        watchdog = run_watchdog(fast_config(port, []))
        assert watchdog.wait_exit(timeout=15) == 2
        output = watchdog.output()
        assert f"health.url: port {port} is already in use by pid {stranger.pid}" in output
        assert "http.server" in output
        assert watchdog.events("child_started") == []
        assert watchdog.events("child_healthy") == []


def test_an_answer_from_a_stranger_never_makes_the_app_healthy(run_watchdog, tmp_path) -> None:
    """A stranger that takes the health port after start answers 200: the probe says who
    answered, the app is never called healthy, and its start fails by the startup timeout."""
    app_port, health_port = free_port(), free_port()
    config = fast_config(
        app_port,
        [],
        health={"url": f"http://127.0.0.1:{health_port}/health", "startup_timeout": "2s"},
    )
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_started")
    with stranger_on(health_port, tmp_path) as stranger:
        expected = f"probe answered by pid {stranger.pid} ("

        def answered() -> list[dict]:
            failures = watchdog.events("probe_failed")
            return [f for f in failures if f.get("error", "").startswith(expected)]

        [first, *_] = poll(answered, timeout=10)
        assert first["error"].endswith("), not by the app")
        assert "http.server" in first["error"]
        [failed] = watchdog.wait_for("child_failed_start", timeout=10)
    assert "probe answered by" in failed["reason"]
    assert watchdog.events("child_healthy") == []


def _pids(path: Path) -> list[int]:
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def test_leftovers_of_a_sigkilled_watchdog_are_stopped_before_the_next_start(
    run_watchdog, tmp_path: Path
) -> None:
    """Workers that outlived a SIGKILLed watchdog carry its mark: the next watchdog of the
    app finds them, says so, and stops them before it starts a child of its own."""
    pid_file = tmp_path / "workers.pids"
    config = fast_config(
        free_port(),
        ["--tree-workers", "2", "--workers-outlive-parent", "--pids-file", str(pid_file)],
    )
    first = run_watchdog(config)
    first.wait_for("child_healthy")
    workers = poll(lambda: len(_pids(pid_file)) == 2 and _pids(pid_file), timeout=5)
    environ = psutil.Process(workers[0]).environ()
    assert environ["WATCHDOG_INSTANCE"] == f"faulty@{first.config_path.resolve()}"
    first.send(signal.SIGKILL)
    first.wait_exit(timeout=5)
    assert not any(gone_or_zombie(worker) for worker in workers)  # the leftovers
    pid_file.unlink()
    second = run_watchdog(config)
    [found] = second.wait_for("leftovers_found")
    assert sorted(found["pids"]) == sorted(workers)
    [stopped] = second.wait_for("leftovers_stopped")
    assert stopped["survivors"] == 0
    assert all(gone_or_zombie(worker) for worker in workers)
    second.wait_for("child_started", count=2)  # the first one's and its own
    events = [e["event"] for e in second.events()]
    since_start = events[len(events) - 1 - events[::-1].index("watchdog_started") :]
    assert since_start.index("leftovers_stopped") < since_start.index("child_started")
    assert second.child_pid() not in workers


def test_a_second_watchdog_of_the_same_app_exits_2_and_touches_nothing(run_watchdog) -> None:
    config = fast_config(free_port(), [])
    first = run_watchdog(config)
    first.wait_for("child_healthy")
    started = len(first.events("watchdog_started"))
    second = watchdog_command(first.config_path, "run")
    assert second.returncode == 2
    assert f"pid {first.pid} (" in second.stderr
    assert "already supervises this app" in second.stderr
    assert str(first.workdir / "logs" / "faulty.lock") in second.stderr
    assert len(first.events("watchdog_started")) == started  # not a line written by the second
    state = json.loads((first.workdir / "logs" / "faulty.state.json").read_text())
    assert state["watchdog"]["pid"] == first.pid
    assert first.process.poll() is None


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A process that dies of SIGHUP, SIGUSR1 or SIGUSR2, as most processes would."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait(5)


def _forged_state(tmp_path: Path, pid: int) -> Path:
    config_path = tmp_path / "watchdog.yaml"
    config_path.write_text(json.dumps({"app": {"name": "victim", "command": ["true"]}}))
    (tmp_path / "logs").mkdir(exist_ok=True)
    forged = {
        "app": "victim",
        "written": time.time(),
        "watchdog": {
            "pid": pid,
            "create_time": psutil.Process(pid).create_time(),
            "running": True,
        },
    }
    (tmp_path / "logs" / "victim.state.json").write_text(json.dumps(forged))
    return config_path


def test_a_forged_state_file_cannot_make_restart_or_reload_signal_a_bystander(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    """The app's user owns the state directory: a pid written there is never signalled."""
    config_path = _forged_state(tmp_path, bystander.pid)
    for command in (("restart", "--force"), ("restart",), ("reload",)):
        refused = watchdog_command(config_path, *command)
        assert refused.returncode == 3, refused
        assert "the watchdog is not running" in refused.stderr
    assert bystander.poll() is None


def test_a_lock_held_by_something_else_is_not_trusted(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    """Holding the lock is not enough: the holder must be `watchdog run` with this config."""
    config_path = _forged_state(tmp_path, bystander.pid)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            "f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True)\n"
            "time.sleep(60)\n",
            str(tmp_path / "logs" / "victim.lock"),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        refused = watchdog_command(config_path, "restart", "--force")
        assert refused.returncode == 3
        assert f"refused: pid {holder.pid} holds" in refused.stderr
        assert "is not `watchdog run --config" in refused.stderr
        assert holder.poll() is None
        assert bystander.poll() is None
    finally:
        holder.kill()
        holder.wait(5)


def test_the_lock_is_free_again_once_the_watchdog_stops(run_watchdog) -> None:
    """A stopped watchdog leaves a lock file nobody holds: the next one starts at once."""
    config = fast_config(free_port(), [])
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit() == 0
    lock = watchdog.workdir / "logs" / "faulty.lock"
    with open(lock) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if anyone still held it
    assert os.stat(lock).st_mode & 0o777 == 0o640
