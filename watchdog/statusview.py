"""`watchdog status`: how a state file reads to a person, and its monitoring-plugin verdict.

Pure: fed with the state file's content, the time and whether its pid is still that
watchdog. Exit codes follow the Nagios/Icinga plugin convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from watchdog.units import format_span

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
LABELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
COLOURS = {OK: "green", WARNING: "yellow", CRITICAL: "red", UNKNOWN: "magenta"}
EXIT_CRASH_LOOP = 3  # `watchdog run`'s exit code when it gives up
DOWN_STATES = ("exited", "backoff", "fatal", "stopped", "stopping")


@dataclass(frozen=True, slots=True)
class Verdict:
    code: int
    summary: str
    reasons: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        return LABELS[self.code]


def _not_watching(state: Mapping[str, Any] | None, now: float, pid_is_ours: bool) -> Verdict | None:
    """The verdict when no live watchdog stands behind the state file."""
    if state is None:
        return Verdict(UNKNOWN, "not running (no state file)")
    watchdog = state.get("watchdog", {})
    if not watchdog.get("running", False):
        if watchdog.get("exit_code") == EXIT_CRASH_LOOP:
            # Not "unknown": the watchdog gave up on an app that kept dying. That is an outage.
            return Verdict(CRITICAL, "not running: gave up on a crash loop (exit code 3)")
        return Verdict(UNKNOWN, f"not running (stopped, exit code {watchdog.get('exit_code')})")
    if not pid_is_ours:
        return Verdict(UNKNOWN, f"not running (pid {watchdog.get('pid')} is gone or not ours)")
    age = now - float(state.get("written", 0))
    if age > float(state.get("stale_after", 30)):
        return Verdict(UNKNOWN, f"state not updated for {format_span(age)}: hung?")
    return None


def assess(state: Mapping[str, Any] | None, now: float, pid_is_ours: bool) -> Verdict:
    """The one verdict a monitoring system acts on, with the reasons behind it."""
    not_watching = _not_watching(state, now, pid_is_ours)
    if not_watching is not None or state is None:
        return not_watching or Verdict(UNKNOWN, "not running")
    child = state.get("child") or {}
    code, reasons = OK, []
    if child.get("state") in DOWN_STATES:
        code = CRITICAL
        reasons.append(f"app {child.get('state')}")
    elif not child.get("healthy"):
        code = WARNING
        reasons.append("app starting, not yet healthy")
    for metric, level in sorted((state.get("levels") or {}).items()):
        name = level.get("level")
        if name in ("warning", "critical"):
            code = max(code, CRITICAL if name == "critical" else WARNING)
            reasons.append(f"{metric} {name} ({_value(metric, level.get('value'))})")
    probe = state.get("last_probe") or {}
    if probe.get("consecutive_failures"):
        code = max(code, WARNING)
        reasons.append(f"{probe['consecutive_failures']} failed probe(s) in a row")
    if state.get("pending_restart"):
        code = max(code, WARNING)
        reasons.append(f"restart pending: {state['pending_restart'].get('reason')}")
    summary = f"app {child.get('state', 'unknown')}"
    if child.get("pid"):
        summary += f" (pid {child['pid']})"
    if child.get("healthy"):
        summary += ", healthy"
    return Verdict(code, summary, tuple(reasons))


def _value(metric: str, value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.2f}s" if metric == "response_time" else f"{value:.1f}%"


def _ago(now: float, then: object) -> str:
    if not isinstance(then, int | float):
        return "-"
    stamp = datetime.fromtimestamp(then, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({format_span(now - then)} ago)"


def render(state: Mapping[str, Any] | None, verdict: Verdict, now: float) -> list[tuple[str, str]]:
    """(text, colour) lines; the caller decides whether colour is shown."""
    app = (state or {}).get("app", "?")
    lines = [(f"{verdict.label}: {app}: {verdict.summary}", COLOURS[verdict.code])]
    lines += [(f"  - {reason}", COLOURS[verdict.code]) for reason in verdict.reasons]
    if state is None or verdict.code == UNKNOWN:
        return lines
    watchdog, child = state.get("watchdog", {}), state.get("child") or {}
    restarts, probe = state.get("restarts", {}), state.get("last_probe") or {}
    rows = [
        (
            "watchdog",
            f"pid {watchdog.get('pid')}, version {watchdog.get('version')},"
            f" started {_ago(now, watchdog.get('started'))}",
        ),
        (
            "app",
            f"{child.get('state')}, pid {child.get('pid')},"
            f" started {_ago(now, child.get('started'))}",
        ),
        (
            "restarts",
            f"{restarts.get('count', 0)}"
            + (
                f", last {_ago(now, restarts.get('last_at'))}: {restarts.get('last_reason')}"
                if restarts.get("last_at")
                else ""
            ),
        ),
        ("last probe", _probe(probe, now)),
        (
            "limit",
            f"memory graded against {(state.get('last_sample') or {}).get('memory_of', '-')}",
        ),
    ]
    lines += [(f"  {name:<11}{text}", "") for name, text in rows]
    levels = state.get("levels") or {}
    if levels:
        width = max(15, *(len(metric) + 2 for metric in levels))
        lines.append((f"  {'metric':<{width}}{'level':<10}value", ""))
        for metric, level in sorted(levels.items()):
            colour = {"warning": "yellow", "critical": "red"}.get(level.get("level"), "")
            value = _value(metric, level.get("value"))
            lines.append((f"  {metric:<{width}}{level.get('level', '-'):<10}{value}", colour))
    return lines


def _probe(probe: Mapping[str, Any], now: float) -> str:
    if not probe:
        return "none yet"
    latency = probe.get("latency")
    took = f"{latency * 1000:.0f} ms" if isinstance(latency, int | float) else "-"
    outcome = f"ok {probe.get('status')}" if probe.get("ok") else f"failed: {probe.get('error')}"
    return f"{outcome} in {took}, {_ago(now, probe.get('at'))}"
