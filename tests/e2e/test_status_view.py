"""`watchdog status` of a running watchdog: the history as sparklines, and --watch."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import WatchdogProcess, fast_config, free_port, poll, watchdog_command
from watchdog.cli.sparkline import BARS, CLEAR

Start = Callable[[dict[str, Any]], WatchdogProcess]


def _started(run_watchdog: Start) -> WatchdogProcess:
    config = fast_config(free_port(), [], resources={"interval": "200ms"})
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    watchdog.wait_for("resource_sample", count=4)
    return watchdog


def _row(text: str, label: str) -> str:
    """A row of the history block (the levels table above it has rows named alike)."""
    _, _, history = text.partition("  history    ")
    return next((line for line in history.splitlines() if line.startswith(f"  {label:<9}  ")), "")


def test_status_draws_the_recent_samples(run_watchdog: Start) -> None:
    watchdog = _started(run_watchdog)

    def drawn() -> str | None:
        shown = watchdog_command(watchdog.config_path, "status").stdout
        latency = _row(shown, "latency")
        return shown if latency and any(bar in latency for bar in BARS) else None

    shown = poll(drawn, 10)
    assert "  history    last " in shown
    assert "now " in _row(shown, "rss")
    assert " MB" in _row(shown, "rss")
    assert any(bar in _row(shown, "cpu") for bar in BARS)
    history = shown.partition("  history    ")[2].splitlines()
    assert len(history) == 4
    assert all(len(line) <= 100 - len("  history    ") for line in history[:1])
    assert all(len(line) <= 100 for line in history[1:])


def test_watch_prints_one_view_per_interval_off_a_terminal(run_watchdog: Start) -> None:
    watchdog = _started(run_watchdog)
    poll(lambda: watchdog_command(watchdog.config_path, "status").returncode == 0, 5)
    started = time.monotonic()
    watched = watchdog_command(
        watchdog.config_path, "status", "--watch", "--interval", "0.3", "--count", "3"
    )
    took = time.monotonic() - started
    assert watched.returncode == 0, watched.stderr
    views = watched.stdout.split("\n\n")
    assert len(views) == 3
    assert all(view.startswith("OK: faulty: app running") for view in views)
    assert CLEAR not in watched.stdout
    assert took >= 0.6  # two waits between three views


def test_watch_redraws_in_place_at_a_terminal(run_watchdog: Start) -> None:
    watchdog = _started(run_watchdog)
    command = [sys.executable, "-m", "watchdog", "status", "--config", str(watchdog.config_path)]
    pid, fd = pty.fork()
    if pid == 0:
        watch = [*command, "--watch", "--interval", "0.2", "--count", "2"]
        try:
            os.execve(sys.executable, watch, {**os.environ, "NO_COLOR": "1"})
        finally:
            os._exit(127)  # never back into the test runner
    shown = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the command exited and the terminal closed
            break
        if not chunk:
            break
        shown += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    text = shown.decode(errors="replace")
    assert text.count(CLEAR) == 2
    assert text.count("OK: faulty") == 2
    assert "\x1b[" not in text.replace(CLEAR, "")  # NO_COLOR: the verdict is not green
