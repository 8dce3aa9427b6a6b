"""`watchdog status` verdicts (monitoring-plugin exit codes) and the person's view."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from watchdog.cli.statusview import CRITICAL, OK, UNKNOWN, WARNING, assess, liveness, render

NOW = 1_800_000_000.0


def healthy_state(**changes: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "format": 1,
        "app": "api",
        "written": NOW - 2,
        "stale_after": 30,
        "watchdog": {"pid": 10, "running": True, "started": NOW - 3600, "version": "1"},
        "child": {"state": "running", "pid": 11, "healthy": True, "started": NOW - 600},
        "restarts": {"count": 2, "last_reason": "requested by SIGUSR1", "last_at": NOW - 600},
        "last_probe": {"ok": True, "status": 200, "latency": 0.012, "at": NOW - 5},
        "levels": {"memory": {"level": "normal", "value": 41.0}},
        "pending_restart": None,
        "last_sample": {"memory_of": "host"},
    }
    for dotted, value in changes.items():
        target = state
        *parents, key = dotted.split("__")
        for parent in parents:
            target = target[parent]
        target[key] = value
    return state


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({}, OK, "app running (pid 11), answering"),
        ({"child__healthy": False}, WARNING, "app starting, not yet healthy"),
        ({"levels": {"cpu": {"level": "warning", "value": 88.0}}}, WARNING, "cpu warning (88.0%)"),
        ({"levels": {"memory": {"level": "critical", "value": 93.5}}}, CRITICAL, "memory critical"),
        ({"levels": {"response_time": {"level": "warning", "value": 2.5}}}, WARNING, "2.50s"),
        (
            {"last_probe": {"ok": False, "consecutive_failures": 2, "error": "timeout", "at": NOW}},
            WARNING,
            "2 failed probe(s) in a row: timeout",
        ),
        (
            {"pending_restart": {"reason": "cpu critical", "at": NOW + 60}},
            WARNING,
            "restart pending",
        ),
        ({"child__state": "backoff", "child__healthy": False}, CRITICAL, "app backoff"),
        ({"child__state": "fatal", "child__healthy": False}, CRITICAL, "app fatal"),
        (
            {"child__state": "stopped_by_operator", "child__healthy": False, "child__pid": None},
            WARNING,
            "app stopped by operator | app stopped by operator: `watchdog start` starts it",
        ),
        ({"written": NOW - 31}, UNKNOWN, "state not updated for 31s: hung?"),
        ({"watchdog__running": False, "watchdog__exit_code": 0}, UNKNOWN, "stopped, exit code 0"),
        ({"watchdog__running": False, "watchdog__exit_code": 3}, CRITICAL, "gave up on a crash"),
    ],
)
def test_verdicts(changes: dict[str, Any], code: int, words: str) -> None:
    verdict = assess(healthy_state(**changes), NOW, pid_is_ours=True)
    assert verdict.code == code
    assert words in verdict.summary + " | " + " | ".join(verdict.reasons)


def test_no_state_file_or_a_dead_pid_is_unknown() -> None:
    assert assess(None, NOW, pid_is_ours=False).code == UNKNOWN
    verdict = assess(healthy_state(), NOW, pid_is_ours=False)
    assert (verdict.code, verdict.summary) == (UNKNOWN, "not running (pid 10 is gone or not ours)")


def test_the_worst_level_wins() -> None:
    state = healthy_state(
        levels={
            "cpu": {"level": "warning", "value": 90.0},
            "memory": {"level": "critical", "value": 95.0},
        }
    )
    verdict = assess(state, NOW, pid_is_ours=True)
    assert verdict.code == CRITICAL
    assert len(verdict.reasons) == 2


def test_render_shows_the_verdict_first_and_a_row_per_metric() -> None:
    state = healthy_state(levels={"memory": {"level": "warning", "value": 85.2}})
    verdict = assess(state, NOW, pid_is_ours=True)
    lines = render(state, verdict, NOW)
    texts = [text for text, _ in lines]
    assert texts[0] == "WARNING: api: app running (pid 11), answering"
    assert lines[0][1] == "yellow"
    assert any(t.startswith("  restarts   2, last ") and "requested by SIGUSR1" in t for t in texts)
    assert any("ok 200 in 12 ms" in t for t in texts)
    [memory_row] = [line for line in lines if line[0].strip().startswith("memory ")]
    assert memory_row == ("  memory         warning   85.2%", "yellow")


def test_render_of_unknown_stops_at_the_reason() -> None:
    verdict = assess(None, NOW, pid_is_ours=False)
    assert render(None, verdict, NOW, app="api") == [
        ("UNKNOWN: api: not running (no state file)", "magenta")
    ]


def test_assess_does_not_change_the_state() -> None:
    state = healthy_state()
    before = copy.deepcopy(state)
    assess(state, NOW, pid_is_ours=True)
    assert state == before


def failing(**probe: Any) -> dict[str, Any]:
    last = {"ok": False, "status": None, "latency": 0.2, "at": NOW - 1, **probe}
    return healthy_state(last_probe=last)


def test_answering_only_after_a_good_probe() -> None:
    """Healthy once is not healthy now: failed probes in a row are named, not "healthy"."""
    verdict = assess(
        failing(consecutive_failures=3, error="no answer within 200ms"), NOW, pid_is_ours=True
    )
    assert verdict.code == WARNING
    assert verdict.summary == "app running (pid 11), failing its health probes"
    assert verdict.reasons == ("3 failed probe(s) in a row: no answer within 200ms",)
    assert "healthy" not in verdict.summary
    bad_status = assess(failing(consecutive_failures=1, status=503), NOW, pid_is_ours=True)
    assert bad_status.reasons == ("1 failed probe(s) in a row: status 503",)


def test_the_previous_childs_probe_says_nothing_of_the_new_one() -> None:
    """A probe from before the current child started is shown as such, and is no verdict."""
    state = failing(consecutive_failures=3, error="refused", at=NOW - 700)  # child: NOW - 600
    verdict = assess(state, NOW, pid_is_ours=True)
    assert verdict.code == OK
    assert verdict.summary == "app running (pid 11), not probed since it started"
    [row] = [text for text, _ in render(state, verdict, NOW) if "last probe" in text]
    assert row.endswith("(of the previous child)")


HOST_CRITICAL = {
    "memory": {"level": "normal", "value": 10.0},
    "host_cpu": {"level": "critical", "value": 99.5},
    "host_memory": {"level": "warning", "value": 91.0},
}


def test_a_busy_host_is_no_verdict_unless_asked() -> None:
    """Host levels are context: shown, uncoloured, but no say in the verdict; with
    resources.host.alert they count like the app's."""
    state = healthy_state(levels=HOST_CRITICAL)
    verdict = assess(state, NOW, pid_is_ours=True)
    assert (verdict.code, verdict.reasons) == (OK, ())
    rows = {text.split()[0]: (text, colour) for text, colour in render(state, verdict, NOW)[1:]}
    assert rows["host_cpu"] == ("  host_cpu       critical  99.5%   (host: not in the verdict)", "")
    counted = assess(state, NOW, pid_is_ours=True, host_alerts=True)
    assert counted.code == CRITICAL
    assert counted.reasons == ("host_cpu critical (99.5%)", "host_memory warning (91.0%)")
    shown = render(state, counted, NOW, host_alerts=True)
    assert ("  host_cpu       critical  99.5%", "red") in shown


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({}, OK),
        ({"levels": {"memory": {"level": "critical", "value": 99.0}}}, OK),  # the app's trouble
        ({"child__state": "backoff", "child__healthy": False}, OK),
        ({"child__state": "stopped_by_operator", "child__healthy": False}, OK),  # on purpose
        ({"watchdog__running": False, "watchdog__exit_code": 3}, UNKNOWN),  # gave up: gone
        ({"watchdog__running": False, "watchdog__exit_code": 0}, UNKNOWN),
        ({"written": NOW - 31}, UNKNOWN),  # hung
    ],
)
def test_liveness_is_about_the_watchdog_alone(changes: dict[str, Any], code: int) -> None:
    """A container's liveness probe passes while the watchdog runs, whatever the app does,
    and fails once it is gone or hung, a crash loop it gave up on included."""
    assert liveness(healthy_state(**changes), NOW, pid_is_ours=True) == code
    assert liveness(healthy_state(**changes), NOW, pid_is_ours=False) == UNKNOWN
    assert liveness(None, NOW, pid_is_ours=False) == UNKNOWN


def test_nothing_missing_is_shown_as_none() -> None:
    """A down app has no pid, a field may be missing: it is left out, never "None"."""
    state = healthy_state(
        child={"state": "fatal", "pid": None, "healthy": False, "started": NOW - 5},
        restarts={"count": 1, "last_reason": None, "last_at": NOW - 5},
        last_probe={"ok": False, "status": None, "error": None, "at": NOW - 5},
        pending_restart={"reason": None},
        last_sample=None,
        watchdog={"pid": 10, "running": True, "started": NOW - 60, "version": None},
    )
    verdict = assess(state, NOW, pid_is_ours=True)
    shown = "\n".join(text for text, _ in render(state, verdict, NOW))
    assert "None" not in shown, shown
    assert "?" not in shown, shown
    assert "  app        fatal, last started " in shown
    stopped = healthy_state(watchdog={"running": False})
    assert assess(stopped, NOW, pid_is_ours=False).summary == "not running (stopped)"


def test_a_restart_under_way_is_a_warning_that_says_which_step() -> None:
    state = healthy_state(child={"state": "draining", "pid": 102, "healthy": False})
    verdict = assess(state, NOW, pid_is_ours=True)
    assert verdict.code == WARNING
    assert "app restarting: the new child serves while the old one drains" in verdict.reasons


def test_the_next_planned_restart_is_shown_with_its_window() -> None:
    planned = {"reason": "max_uptime 24h", "at": NOW + 3600, "window": "03:00-05:00"}
    state = healthy_state(planned_restart=planned)
    lines = [text for text, _ in render(state, assess(state, NOW, pid_is_ours=True), NOW)]
    [row] = [line for line in lines if "next restart" in line]
    assert row.endswith("(in 1h): max_uptime 24h, in the window 03:00-05:00")


def test_the_baseline_is_shown_beside_what_the_app_does_now() -> None:
    baseline = {"latency_baseline_ms": 20.0, "latency_ms": 70.0, "latency_ratio": 3.5,
                "rss_baseline_mb": 31.5}
    state = healthy_state(baseline=baseline)
    lines = [text for text, _ in render(state, assess(state, NOW, pid_is_ours=True), NOW)]
    [row] = [line for line in lines if line.strip().startswith("baseline")]
    assert row.endswith(
        "latency 20 ms once warmed up, 70 ms now (3.5x); memory 31.5 MB once warmed up"
    )


def test_stopped_by_operator_reads_as_words() -> None:
    state = healthy_state(child={"state": "stopped_by_operator", "pid": None, "healthy": False})
    verdict = assess(state, NOW, pid_is_ours=True)
    shown = [text for text, _ in render(state, verdict, NOW)]
    assert shown[0] == "WARNING: api: app stopped by operator"
    [app_row] = [row for row in shown if row.startswith("  app ")]
    assert app_row == "  app        stopped by operator"
