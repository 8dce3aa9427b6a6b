"""`watchdog status` verdicts (monitoring-plugin exit codes) and the person's view."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from watchdog.statusview import CRITICAL, OK, UNKNOWN, WARNING, assess, render

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
        ({}, OK, "app running (pid 11), healthy"),
        ({"child__healthy": False}, WARNING, "app starting, not yet healthy"),
        ({"levels": {"cpu": {"level": "warning", "value": 88.0}}}, WARNING, "cpu warning (88.0%)"),
        ({"levels": {"memory": {"level": "critical", "value": 93.5}}}, CRITICAL, "memory critical"),
        ({"levels": {"response_time": {"level": "warning", "value": 2.5}}}, WARNING, "2.50s"),
        ({"last_probe__consecutive_failures": 2}, WARNING, "2 failed probe(s) in a row"),
        (
            {"pending_restart": {"reason": "cpu critical", "at": NOW + 60}},
            WARNING,
            "restart pending",
        ),
        ({"child__state": "backoff", "child__healthy": False}, CRITICAL, "app backoff"),
        ({"child__state": "fatal", "child__healthy": False}, CRITICAL, "app fatal"),
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
    assert texts[0] == "WARNING: api: app running (pid 11), healthy"
    assert lines[0][1] == "yellow"
    assert any(t.startswith("  restarts   2, last ") and "requested by SIGUSR1" in t for t in texts)
    assert any("ok 200 in 12 ms" in t for t in texts)
    [memory_row] = [line for line in lines if line[0].strip().startswith("memory ")]
    assert memory_row == ("  memory         warning   85.2%", "yellow")


def test_render_of_unknown_stops_at_the_reason() -> None:
    verdict = assess(None, NOW, pid_is_ours=False)
    assert render(None, verdict, NOW) == [("UNKNOWN: ?: not running (no state file)", "magenta")]


def test_assess_does_not_change_the_state() -> None:
    state = healthy_state()
    before = copy.deepcopy(state)
    assess(state, NOW, pid_is_ours=True)
    assert state == before
