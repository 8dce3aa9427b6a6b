"""End to end: a reload that moves `state.dir`, and a stop asked for during start-up."""

from __future__ import annotations

import copy
import signal
import sys
from pathlib import Path

import psutil

from tests.conftest import fast_config, free_port, gone_or_zombie, poll, watchdog_command


def _pids(path: Path) -> list[int]:
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _moved(config: dict, state_dir: Path) -> dict:
    moved = copy.deepcopy(config)
    moved["state"] = {"dir": str(state_dir)}
    return moved


def test_watchdog_reload_finds_the_watchdog_when_the_file_moves_state_dir(
    run_watchdog, tmp_path: Path
) -> None:
    """README: a reload that changes state.dir takes the new lock first. `watchdog reload`
    reads the edited file, so it looks for the lock where the watchdog does not hold it yet,
    and says the watchdog is not running while it is."""
    config = fast_config(free_port(), [])
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    watchdog.write_config(_moved(config, tmp_path / "state2"))
    done = watchdog_command(watchdog.config_path, "reload")
    assert "not running" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert done.stdout == "watchdog: reloaded (changed: state)\n"


def test_leftovers_of_a_child_started_before_state_dir_moved_are_found(
    run_watchdog, tmp_path: Path
) -> None:
    """A child started before a reload moved state.dir is still found by the next watchdog
    of the same file after a SIGKILL: the mark names the config file, which no reload can
    change, not state.dir."""
    pid_file = tmp_path / "workers.pids"
    lasting = ["--tree-workers", "2", "--workers-outlive-parent", "--pids-file"]
    config = fast_config(free_port(), [*lasting, str(pid_file)])
    first = run_watchdog(config)
    first.wait_for("child_healthy")
    poll(lambda: len(_pids(pid_file)) == 2, timeout=5)
    moved = _moved(config, tmp_path / "state2")
    first.write_config(moved)
    first.send(signal.SIGHUP)
    first.wait_for("config_reloaded")
    first.send(signal.SIGKILL)
    first.wait_exit(timeout=5)
    workers = [pid for pid in _pids(pid_file) if not gone_or_zombie(pid)]
    try:
        second = run_watchdog(moved)
        second.wait_for("watchdog_started", count=2)
        second.wait_for("child_healthy", count=2, timeout=15)
        left = [worker for worker in workers if not gone_or_zombie(worker)]
        assert left == [], f"workers of the first watchdog's child still run: {left}"
    finally:
        for worker in workers:
            if not gone_or_zombie(worker):
                psutil.Process(worker).kill()


def test_a_sigterm_during_the_leftovers_stop_starts_no_child(run_watchdog, tmp_path) -> None:
    """Signals sent during start-up wait until the loop runs; the stop asked for then must
    come before the first child, not after it was spawned."""
    state_dir = tmp_path / "logs"
    state_dir.mkdir()
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(30)"
    mark = f"faulty@{(tmp_path / 'watchdog.yaml').resolve()}"  # where run_watchdog writes it
    env = {"WATCHDOG_INSTANCE": mark, "PATH": "/usr/bin:/bin"}
    leftover = psutil.Popen([sys.executable, "-c", stubborn], env=env)
    try:
        poll(lambda: "WATCHDOG_INSTANCE" in leftover.environ(), timeout=5)
        watchdog = run_watchdog(fast_config(free_port(), []))
        watchdog.wait_for("leftovers_found")  # its stop takes stop_timeout (2s): SIGKILL
        watchdog.send(signal.SIGTERM)
        assert watchdog.wait_exit(timeout=15) == 0
        events = [e["event"] for e in watchdog.events()]
        assert "leftovers_stopped" in events
        assert "child_started" not in events, events
    finally:
        if leftover.poll() is None:
            leftover.kill()
        leftover.wait(5)
