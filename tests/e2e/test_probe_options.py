"""End to end: an answer whose body is not the expected one is a failed probe, counted by
the rules like any other, and the probe's headers are never logged."""

from __future__ import annotations

import signal

from tests.conftest import fast_config, free_port

TOKEN = "Bearer e2e-s3cr3t"


def test_a_body_that_stops_matching_fails_probes_and_restarts(run_watchdog) -> None:
    """Healthy with expect_body "ok" (what the app says); reloaded to want JSON it never
    sends: each probe fails saying what came, and max_failures of them restart the app."""
    headers = {"Authorization": TOKEN}
    config = fast_config(free_port(), [], health={"expect_body": "ok", "headers": headers})
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    config["health"]["expect_body"] = {"status": "ok"}
    watchdog.write_config(config)
    watchdog.send(signal.SIGHUP)
    [reloaded] = watchdog.wait_for("config_reloaded")
    [restart] = watchdog.wait_for("restart_triggered", timeout=10)
    events = watchdog.events()
    between = events[events.index(reloaded) + 1 : events.index(restart)]
    failures = [e for e in between if e["event"] == "probe_failed"]
    assert [f["consecutive"] for f in failures] == [1, 2, 3]
    assert failures[-1]["error"] == 'body is not a JSON object with {"status": "ok"}: got "ok"'
    assert "3 consecutive failed probes" in restart["reason"]
    said = watchdog.output() + "\n".join(watchdog.lines("main") + watchdog.lines("health"))
    assert "e2e-s3cr3t" not in said
