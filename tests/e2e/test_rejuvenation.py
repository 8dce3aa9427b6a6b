"""End to end: restarts planned before the app ages into trouble."""

from __future__ import annotations

import contextlib
import json
import signal
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


def test_an_app_slowing_down_with_its_uptime_is_restarted_before_it_is_sick(run_watchdog) -> None:
    """Each answer 4 ms slower than the last: no absolute level is reached (warning is 2 s),
    yet against its own baseline it has degraded, and a planned restart comes."""
    degradation = {"ratio": 3, "floor": "20ms", "sustain": "300ms", "warmup": "10ms",
                   "probes": 5, "window": 3}
    config = fast_config(
        free_port(),
        ["--slower-by", "0.004"],
        # A timeout far above what the app takes when it is degraded (~80 ms), so that a busy
        # host's delays do not make a probe fail first.
        health={"interval": "250ms", "timeout": "240ms"},
        resources={"degradation": degradation},
    )
    watchdog = run_watchdog(config)
    [first] = watchdog.wait_for("child_healthy")
    [learned] = watchdog.wait_for("baseline_learned")
    assert learned["latency_ms"] < 120
    [degraded] = watchdog.wait_for("latency_degraded", timeout=20)
    assert degraded["ratio"] >= 3
    [planned] = watchdog.wait_for("restart_planned", timeout=20)
    assert planned["reason"].startswith("planned: degraded, probe latency")
    [_, second] = watchdog.wait_for("child_healthy", count=2, timeout=20)
    assert second["pid"] != first["pid"]
    counted = [e for e in watchdog.events("probe_failed") if e.get("counted", True)]
    assert counted == [], "it was never sick: only the boot's refused probes, which do not count"


def test_reload_in_place_on_an_app_without_workers_says_so_and_restarts_it_fully(
    run_watchdog,
) -> None:
    """A single process has no workers to replace: the signal is not even sent (a HUP might
    kill it), the restart goes on the stop_start way and the log says why."""
    config = fast_config(free_port(), [], restart={"method": "signal", "min_interval": "100ms"})
    watchdog = run_watchdog(config)
    [first] = watchdog.wait_for("child_healthy")
    watchdog.send(signal.SIGUSR1)
    [unconfirmed] = watchdog.wait_for("child_reload_unconfirmed")
    assert unconfirmed["reason"].startswith("its main process has no workers")
    assert unconfirmed["action"] == "restarting it the stop_start way"
    [_, second] = watchdog.wait_for("child_healthy", count=2)
    assert second["pid"] != first["pid"]
    assert watchdog.events("child_reloaded") == []
