"""End to end: restarts planned before the app ages into trouble."""

from __future__ import annotations

import contextlib
import json
import time

from tests.conftest import fast_config, free_port, poll, watchdog_command


def _window(starts_in: float, lasts: float) -> str:
    """A daily window, host local time, starting `starts_in` seconds from now."""
    start = time.localtime(time.time() + starts_in)
    end = time.localtime(time.time() + starts_in + lasts)
    return f"{start.tm_hour:02d}:{start.tm_min:02d}-{end.tm_hour:02d}:{end.tm_min:02d}"


def test_a_child_past_max_uptime_is_restarted_planned(run_watchdog) -> None:
    config = fast_config(free_port(), [], restart={"max_uptime": "1500ms", "min_interval": "100ms"})
    watchdog = run_watchdog(config)
    [first] = watchdog.wait_for("child_healthy")
    [planned] = watchdog.wait_for("restart_planned", timeout=10)
    assert planned["reason"].startswith("planned: uptime 1.")
    assert planned["reason"].endswith("\u2265 max_uptime 1.5s")
    [restart] = watchdog.wait_for("restart_triggered")
    assert restart["reason"] == planned["reason"]
    assert restart["diagnostics"] is None  # nothing wrong to take a snapshot of
    [_, second] = watchdog.wait_for("child_healthy", count=2)
    assert second["pid"] != first["pid"]


def test_outside_its_window_a_due_restart_waits_and_status_says_until_when(run_watchdog) -> None:
    window = _window(2 * 3600, 3600)  # opens in two hours
    config = fast_config(free_port(), [], restart={"max_uptime": "300ms", "window": window})
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    state_file = watchdog.workdir / "logs" / "faulty.state.json"

    def waiting_for_the_window() -> bool:
        """Due (after 300 ms), it now waits: the next restart moved to the window's start."""
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(state_file.read_text())
            planned = state.get("planned_restart") or {}
            return planned.get("at", 0) - state["written"] > 3600
        return False

    poll(waiting_for_the_window, timeout=10)
    assert watchdog.events("restart_planned") == []
    status = watchdog_command(watchdog.config_path, "status")
    assert f"in the window {window}" in status.stdout, status.stdout
