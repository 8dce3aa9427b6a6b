"""`watchdog status`: how a state file reads to a person, and its monitoring-plugin verdict.

Pure: fed with the state file's content, the time and whether its pid is still that
watchdog. Exit codes follow the Nagios/Icinga plugin convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watchdog.cli.timeshown import shown_time
from watchdog.core.units import format_span

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
LABELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
COLOURS = {OK: "green", WARNING: "yellow", CRITICAL: "red", UNKNOWN: "magenta"}
EXIT_CRASH_LOOP = 3  # `watchdog run`'s exit code when it gives up
DOWN_STATES = ("exited", "backoff", "fatal", "stopped", "stopping")
HOST_METRICS = ("host_memory", "host_cpu")  # context, unless resources.host.alert
# Down on purpose (`watchdog stop`): a warning, not an outage to page anyone about.
HELD = "stopped_by_operator"


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
    watchdog = state.get("watchdog") or {}
    if not watchdog.get("running", False):
        code = watchdog.get("exit_code")
        if code == EXIT_CRASH_LOOP:
            # Not "unknown": the watchdog gave up on an app that kept dying. That is an outage.
            return Verdict(CRITICAL, "not running: gave up on a crash loop (exit code 3)")
        how = "stopped" if code is None else f"stopped, exit code {code}"
        return Verdict(UNKNOWN, f"not running ({how})")
    if not pid_is_ours:
        pid = watchdog.get("pid")
        whose = "its pid" if pid is None else f"pid {pid}"
        return Verdict(UNKNOWN, f"not running ({whose} is gone or not ours)")
    age = now - _number(state.get("written"), 0.0)
    if age > _number(state.get("stale_after"), 30.0):
        return Verdict(UNKNOWN, f"state not updated for {format_span(age)}: hung?")
    return None


def _number(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default


# A restart under way: the app serves (the old child, or already the new one) meanwhile.
RESTARTING = {
    "restarting": "app restarting: a diagnostic snapshot before the old child stops",
    "reloading": "app reloading in place: its master replaces its workers",
    "handover": "app restarting: the new child starts while the old one serves",
    "draining": "app restarting: the new child serves while the old one drains",
}


def liveness(state: Mapping[str, Any] | None, now: float, pid_is_ours: bool) -> int:
    """A container's liveness: OK while a live watchdog keeps its state file fresh.

    A sick app is the watchdog's to restart; a watchdog that is gone, stopped (for
    whatever reason, a crash loop it gave up on included) or hung is the orchestrator's.
    """
    return OK if _not_watching(state, now, pid_is_ours) is None else UNKNOWN


def current_probe(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """The last probe, if it is about the current child; an older child's says nothing."""
    probe = state.get("last_probe") or {}
    at, started = probe.get("at"), (state.get("child") or {}).get("started")
    if isinstance(at, int | float) and isinstance(started, int | float) and at < started:
        return {}
    return probe


def _failures(probe: Mapping[str, Any]) -> str:
    count = probe.get("consecutive_failures")
    shown = f"{count} failed probe(s) in a row" if count else "the last probe failed"
    why = probe.get("error") or (f"status {probe['status']}" if probe.get("status") else None)
    return f"{shown}: {why}" if why else shown


def assess(
    state: Mapping[str, Any] | None, now: float, pid_is_ours: bool, host_alerts: bool = False
) -> Verdict:
    """The one verdict a monitoring system acts on, with the reasons behind it.

    The host's levels count only with `host_alerts` (resources.host.alert): a busy host
    is not a sick app.
    """
    not_watching = _not_watching(state, now, pid_is_ours)
    if not_watching is not None or state is None:
        return not_watching or Verdict(UNKNOWN, "not running")
    child = state.get("child") or {}
    probe = current_probe(state)
    failing = child.get("healthy") and probe and not probe.get("ok")
    code, reasons = OK, []
    if child.get("state") == HELD:
        code = WARNING
        reasons.append("app stopped by operator: `watchdog start` starts it")
    elif child.get("state") in DOWN_STATES:
        code = CRITICAL
        reasons.append(f"app {child.get('state')}")
    elif child.get("state") in RESTARTING:
        code = WARNING
        reasons.append(RESTARTING[child["state"]])
    elif not child.get("healthy"):
        code = WARNING
        reasons.append("app starting, not yet healthy")
    for metric, level in sorted((state.get("levels") or {}).items()):
        name = level.get("level")
        counts = host_alerts or metric not in HOST_METRICS
        if name in ("warning", "critical") and counts:
            code = max(code, CRITICAL if name == "critical" else WARNING)
            reasons.append(f"{metric} {name} ({_value(metric, level.get('value'))})")
    if failing:
        code = max(code, WARNING)
        reasons.append(_failures(probe))
    pending = state.get("pending_restart")
    if pending:
        code = max(code, WARNING)
        reasons.append(f"restart pending: {pending.get('reason') or 'no reason recorded'}")
    return Verdict(code, _summary(child, probe), tuple(reasons))


def _summary(child: Mapping[str, Any], probe: Mapping[str, Any]) -> str:
    """What the app is doing; "answering" only when its last probe was answered well."""
    state = child.get("state")
    summary = f"app {state.replace('_', ' ') if state else 'in an unknown state'}"
    if child.get("pid"):
        summary += f" (pid {child['pid']})"
    if not child.get("healthy"):
        return summary
    if not probe:
        return f"{summary}, not probed since it started"
    return f"{summary}, {'answering' if probe.get('ok') else 'failing its health probes'}"


def _value(metric: str, value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.2f}s" if metric == "response_time" else f"{value:.1f}%"


def _ago(now: float, then: object) -> str:
    if not isinstance(then, int | float):
        return "at an unknown time"
    return f"{shown_time(then)} ({format_span(now - then)} ago)"


def _joined(*parts: object) -> str:
    """The parts that are there; a missing one (None, False, "") is left out, not shown."""
    return ", ".join(str(part) for part in parts if part)


def render(
    state: Mapping[str, Any] | None,
    verdict: Verdict,
    now: float,
    app: str | None = None,
    host_alerts: bool = False,
) -> list[tuple[str, str]]:
    """(text, colour) lines; the caller decides whether colour is shown.

    `app` is the config's name for it, shown when there is no state file to tell.
    """
    app = (state or {}).get("app") or app or "the app"
    lines = [(f"{verdict.label}: {app}: {verdict.summary}", COLOURS[verdict.code])]
    lines += [(f"  - {reason}", COLOURS[verdict.code]) for reason in verdict.reasons]
    if state is None or verdict.code == UNKNOWN:
        return lines
    watchdog, child = state.get("watchdog") or {}, state.get("child") or {}
    restarts = state.get("restarts") or {}
    pid, version = watchdog.get("pid"), watchdog.get("version")
    last_reason = restarts.get("last_reason") or "no reason recorded"
    memory_of = (state.get("last_sample") or {}).get("memory_of")
    rows = [
        (
            "watchdog",
            _joined(
                pid and f"pid {pid}",
                version and f"version {version}",
                f"started {_ago(now, watchdog.get('started'))}",
            ),
        ),
        ("app", _app_row(child, now)),
        (
            "restarts",
            f"{restarts.get('count', 0)}"
            + (
                f", last {_ago(now, restarts.get('last_at'))}: {last_reason}"
                if restarts.get("last_at")
                else ""
            ),
        ),
        ("last probe", _probe(state, now)),
        ("limit", f"memory graded against {memory_of}" if memory_of else "not sampled yet"),
    ]
    baseline = state.get("baseline")
    if isinstance(baseline, Mapping):
        rows.append(("baseline", _baseline(baseline)))
    planned = state.get("planned_restart")
    if isinstance(planned, Mapping) and isinstance(planned.get("at"), int | float):
        window = f", in the window {planned['window']}" if planned.get("window") else ""
        due = f"{shown_time(planned['at'])} (in {format_span(max(0.0, planned['at'] - now))})"
        rows.append(("next restart", f"{due}: {planned.get('reason')}{window}"))
    lines += [(f"  {name:<11}{text}", "") for name, text in rows]
    return lines + _level_rows(state.get("levels") or {}, host_alerts)


def _app_row(child: Mapping[str, Any], now: float) -> str:
    pid, started = child.get("pid"), child.get("started")
    return _joined(
        (child.get("state") or "unknown state").replace("_", " "),
        pid and f"pid {pid}",
        # No pid: the app is down, and the time is when its last child started.
        started is not None and f"{'started' if pid else 'last started'} {_ago(now, started)}",
    )


def _level_rows(levels: Mapping[str, Any], host_alerts: bool) -> list[tuple[str, str]]:
    if not levels:
        return []
    width = max(15, *(len(metric) + 2 for metric in levels))
    lines = [(f"  {'metric':<{width}}{'level':<10}value", "")]
    for metric, level in sorted(levels.items()):
        name = level.get("level") or "-"
        value = _value(metric, level.get("value"))
        if metric in HOST_METRICS and not host_alerts:
            # Shown for context, without the colour that would say something is wrong.
            lines.append((f"  {metric:<{width}}{name:<10}{value:<8}(host: not in the verdict)", ""))
            continue
        colour = {"warning": "yellow", "critical": "red"}.get(name, "")
        lines.append((f"  {metric:<{width}}{name:<10}{value}", colour))
    return lines


def _probe(state: Mapping[str, Any], now: float) -> str:
    probe = state.get("last_probe") or {}
    if not probe:
        return "none yet"
    latency = probe.get("latency")
    took = f" in {latency * 1000:.0f} ms" if isinstance(latency, int | float) else ""
    status = probe.get("status")
    if probe.get("ok"):
        outcome = f"ok {status}" if status else "ok"
    else:
        outcome = f"failed: {probe.get('error') or (f'status {status}' if status else 'no answer')}"
    older = "" if current_probe(state) else " (of the previous child)"
    return f"{outcome}{took}, {_ago(now, probe.get('at'))}{older}"


def _baseline(baseline: Mapping[str, Any]) -> str:
    """The child against its own baseline: latency now and then, memory once warmed up."""
    parts = []
    if isinstance(baseline.get("latency_baseline_ms"), int | float):
        now = baseline.get("latency_ms")
        ratio = baseline.get("latency_ratio")
        shown = f"latency {baseline['latency_baseline_ms']:g} ms once warmed up"
        if isinstance(now, int | float) and isinstance(ratio, int | float):
            shown += f", {now:g} ms now ({ratio:g}x)"
        parts.append(shown)
    if isinstance(baseline.get("rss_baseline_mb"), int | float):
        parts.append(f"memory {baseline['rss_baseline_mb']:g} MB once warmed up")
    return "; ".join(parts) or "being learned"
