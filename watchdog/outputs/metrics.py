"""Prometheus metrics: the events as counters and gauges, for a scrape and/or a textfile.

The text exposition format 0.0.4 is written here, so that the watchdog needs no client
library. Values change only in `on_event`, on the loop; `render` reads them.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from watchdog.config.operations import MetricsConfig
from watchdog.core.rules.remedies import REMEDIED
from watchdog.outputs.events import Event
from watchdog.outputs.scrape import ScrapeEndpoint

TEXTFILE_MODE = 0o640
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, math.inf)
# The wording of the core's policy, levels, resources and requests; a reason
# that matches none (a rule added later) is counted as "other" rather than lost.
REASON_PREFIXES = (
    ("planned:", "planned"),
    ("memory forecast:", "forecast"),
    ("memory over its cap:", "max_rss"),
    ("memory critical for", "memory"),
    ("cpu critical for", "cpu"),
    ("response_time critical for", "response_time"),
    ("error_rate critical for", "error_rate"),
    ("requested by ", "operator"),
    ("config reloaded", "config"),
)
# Every value the restart counter's label can take, so that its cardinality never grows.
RESTART_KINDS = ("probes", *(kind for _, kind in REASON_PREFIXES), "crash", "failed_start", "other")
# Events that count as a restart, with their kind ("": read from the reason).
RESTART_EVENTS = {
    "restart_triggered": "",
    "child_exited": "crash",
    "child_failed_start": "failed_start",
}
# Started is not up: the app is booting until its first healthy answer.
CHILD_DOWN = frozenset(("child_started", "child_exited", "child_stopping", "child_stopped"))
CHILD_DOWN |= {"crash_loop", "spawn_failed"}
# A remedy's verdict; its metric is one of REMEDIED, so the labels stay few.
REMEDY_OUTCOMES = {"remedy_applied": "worked", "remedy_failed": "failed"}
REMEDY_OUTCOMES |= {"remedy_unchecked": "unchecked"}
LEVELS = {"normal": 0, "warning": 1, "critical": 2}
# Rendered in this order; the third item is the resource_sample field that sets a gauge.
FAMILIES = {
    "watchdog_up": ("gauge", "1 while the watchdog runs.", None),
    "watchdog_start_time_seconds": ("gauge", "When the watchdog started, in Unix time.", None),
    "watchdog_child_up": ("gauge", "1 while the app is up and has answered healthy.", None),
    "watchdog_restarts_total": ("counter", "Restarts and deaths of the app, by reason.", None),
    "watchdog_last_restart_timestamp_seconds": ("gauge", "Unix time of the last restart.", None),
    "watchdog_remedies_total": ("counter", "Remedies asked of the app, by verdict.", None),
    "watchdog_worker_recycles_total": ("counter", "Workers signalled over their own cap.", None),
    "watchdog_probe_duration_seconds": ("histogram", "Latency of the health probes.", None),
    "watchdog_probes_total": ("counter", "Health probes of the app, by result.", None),
    "watchdog_probe_failures_consecutive": ("gauge", "Failed health probes in a row.", None),
    "watchdog_child_rss_bytes": ("gauge", "Resident memory of the app's tree.", "rss_bytes"),
    "watchdog_child_rss_baseline_bytes": (
        "gauge",
        "The app's resident memory once warmed up, for this child.",
        "rss_baseline_bytes",
    ),
    "watchdog_probe_latency_baseline_seconds": (
        "gauge",
        "Median probe latency this child answered with once warmed up.",
        "latency_baseline_ms",
    ),
    "watchdog_probe_latency_median_seconds": (
        "gauge",
        "Rolling median of the latest probe latencies.",
        "latency_ms",
    ),
    "watchdog_probe_latency_ratio": (
        "gauge",
        "The rolling median over the baseline: how much the app has slowed.",
        "latency_ratio",
    ),
    "watchdog_child_memory_percent": ("gauge", "App memory, % of its limit.", "memory_percent"),
    "watchdog_child_cpu_percent": ("gauge", "The app's CPU use, % (as configured).", "cpu_percent"),
    "watchdog_child_processes": ("gauge", "Processes in the app's tree.", "procs"),
    "watchdog_child_threads": ("gauge", "Threads in the app's tree.", "threads"),
    "watchdog_child_fds": ("gauge", "Open file descriptors in the app's tree.", "fds"),
    "watchdog_host_memory_percent": ("gauge", "Memory used on the host, %.", "host_memory_percent"),
    "watchdog_host_cpu_percent": ("gauge", "CPU used on the host, %.", "host_cpu_percent"),
    "watchdog_disk_used_percent": ("gauge", "Space used on a watched disk, %.", None),
    "watchdog_level": ("gauge", "A metric's level: 0 normal, 1 warning, 2 critical.", None),
}
# The child's own baseline: a sample without one (a new child, not yet warmed up) has none,
# rather than the last child's.
BASELINE_KEYS = frozenset(
    ("rss_baseline_bytes", "latency_baseline_ms", "latency_ms", "latency_ratio")
)
Labels = tuple[tuple[str, str], ...]


def restart_kind(reason: str) -> str:
    """The restart counter's label for a restart_triggered reason."""
    for prefix, kind in REASON_PREFIXES:
        if reason.startswith(prefix):
            return kind
    return "probes" if "consecutive failed probes" in reason else "other"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def _value(number: float) -> str:
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if float(number).is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(float(number))


def _escape(text: str) -> str:
    # A path from the file system may hold undecodable bytes; the format must be UTF-8.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sample(name: str, labels: Labels, value: float) -> str:
    pairs = ",".join(f'{key}="{_escape(text)}"' for key, text in labels)
    return f"{name}{{{pairs}}} {_value(value)}"


class Metrics:
    """The Prometheus output: fed every event, rendered on a scrape or to a textfile."""

    def __init__(
        self,
        config: MetricsConfig,
        app_name: str,
        report: Callable[..., None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config, self._app, self._report = config, app_name, report
        self._clock = clock  # unused yet: HTTP deadlines run on the loop's (monotonic) clock
        self._scrape = ScrapeEndpoint(self.render)
        self._textfile_failing = False
        self._seen_event = False
        self._values: dict[str, dict[Labels, float]] = {name: {} for name in FAMILIES}
        self._buckets = [0] * len(BUCKETS)  # per bucket; made cumulative when rendered
        self._probe_sum = 0.0
        self._set("watchdog_up", 1)
        self._set("watchdog_start_time_seconds", time.time())
        self._set("watchdog_child_up", 0)
        self._set("watchdog_probe_failures_consecutive", 0)
        # Zeros from the start, so that rate() and increase() see the first one.
        for kind in RESTART_KINDS:
            self._set("watchdog_restarts_total", 0, reason=kind)
        for result in ("ok", "failed"):
            self._set("watchdog_probes_total", 0, result=result)
        self._set("watchdog_worker_recycles_total", 0)

    def _set(self, name: str, value: float, **labels: str) -> None:
        self._values[name][tuple(labels.items())] = value

    def _count(self, name: str, **labels: str) -> None:
        key = tuple(labels.items())
        self._values[name][key] = self._values[name].get(key, 0) + 1

    def on_event(self, event: Event) -> None:
        """Update the values in memory; a malformed event is skipped, never raised."""
        with contextlib.suppress(Exception):
            self._apply(event)

    def _apply(self, event: Event) -> None:
        if not self._seen_event and event.wall:
            # watchdog_started, the first event: the start as the log tells it
            self._set("watchdog_start_time_seconds", event.wall)
        self._seen_event = True
        name, fields = event.name, event.fields
        if name in CHILD_DOWN or name == "child_healthy":
            self._set("watchdog_child_up", int(name == "child_healthy"))
        if name == "child_started":  # as in the policy: a new child has failed no probe yet
            self._set("watchdog_probe_failures_consecutive", 0)
        kind = RESTART_EVENTS.get(name)
        if kind is not None:
            kind = kind or restart_kind(str(fields.get("reason", "")))
            self._count("watchdog_restarts_total", reason=kind)
            self._set("watchdog_last_restart_timestamp_seconds", event.wall or time.time())
        elif name in ("probe_ok", "probe_failed") and fields.get("counted", True) is not False:
            # counted=False: polls while the app boots, not the health of a running app
            ok = name == "probe_ok"
            self._count("watchdog_probes_total", result="ok" if ok else "failed")
            consecutive = 0 if ok else _number(fields.get("consecutive")) or 0
            self._set("watchdog_probe_failures_consecutive", consecutive)
            latency = _number(fields.get("latency"))
            if latency is not None:
                self._buckets[bisect.bisect_left(BUCKETS, latency)] += 1
                self._probe_sum += latency
        elif name == "resource_sample":
            self._sampled(fields)
        elif name in REMEDY_OUTCOMES and fields.get("metric") in REMEDIED:
            outcome = REMEDY_OUTCOMES[name]
            self._count("watchdog_remedies_total", metric=str(fields["metric"]), outcome=outcome)
        elif name == "worker_recycled":
            self._count("watchdog_worker_recycles_total")
        elif name == "level_changed" and fields.get("status") in LEVELS:
            # At once; `show_levels` then keeps every graded metric, changed or not.
            self._set("watchdog_level", LEVELS[fields["status"]], metric=str(fields.get("metric")))

    def _sampled(self, fields: Mapping[str, object]) -> None:
        for family, (_, _, key) in FAMILIES.items():
            value = _number(fields.get(key)) if key else None
            if value is not None:
                self._set(family, value / 1000 if key.endswith("_ms") else value)
            elif key in BASELINE_KEYS:
                self._values[family].clear()
        disks = fields.get("disks")
        if isinstance(disks, Mapping):  # replaced whole: a reload may drop a path
            numbers = {(("path", str(path)),): _number(v) for path, v in disks.items()}
            self._values["watchdog_disk_used_percent"] = {
                labels: value for labels, value in numbers.items() if value is not None
            }

    def show_levels(self, levels: Mapping[str, Mapping[str, object]]) -> None:
        """Every graded metric's level, as the state file has them (0 for a normal one that
        never changed); a metric not measured, such as a new child's, has no sample."""
        with contextlib.suppress(Exception):
            self._values["watchdog_level"] = {
                (("metric", str(metric)),): LEVELS[str(item.get("level"))]
                for metric, item in levels.items()
                if isinstance(item, Mapping) and item.get("level") in LEVELS
            }

    def render(self) -> str:
        """The whole exposition text, format 0.0.4."""
        app: Labels = (("app", self._app),)
        lines: list[str] = []
        for name, (kind, help_, _) in FAMILIES.items():
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
            if kind == "histogram":
                cumulative = 0
                for bound, count in zip(BUCKETS, self._buckets, strict=True):
                    cumulative += count
                    bucket = (*app, ("le", _value(bound)))
                    lines.append(_sample(f"{name}_bucket", bucket, cumulative))
                lines.append(_sample(f"{name}_sum", app, self._probe_sum))
                lines.append(_sample(f"{name}_count", app, cumulative))
            # A gauge not measured yet has no sample rather than a made-up zero.
            for labels, value in sorted(self._values[name].items()):
                lines.append(_sample(name, (*app, *labels), value))
        return "\n".join(lines) + "\n"

    async def start(self) -> None:
        """Listen on metrics.listen, if set; MetricsError if it cannot be bound."""
        if self._config.listen is not None:
            await self._scrape.start(self._config.listen)

    def stopped(self) -> None:
        """The watchdog is stopping: a textfile left behind must not say it is up."""
        self._set("watchdog_up", 0)
        self._set("watchdog_child_up", 0)

    async def reconfigure(self, config: MetricsConfig) -> None:
        """A reload: the listener moves if its address changed; every value carries over."""
        moved = config.listen != self._config.listen
        if moved:
            await self.aclose()
        self._config = config
        if moved:
            await self.start()

    async def aclose(self) -> None:
        """Stop listening and hang up on every open connection."""
        await self._scrape.aclose()

    def write_textfile(self) -> None:
        """Replace metrics.textfile, if set, atomically; a failure is reported, not raised."""
        path = self._config.textfile
        if path is None:
            return
        try:
            _write_atomic(path, self.render())
        except OSError as exc:
            if not self._textfile_failing:  # once, not on every write
                self._report(
                    "metrics_textfile_failed", level="error", path=str(path), error=str(exc)
                )
            self._textfile_failing = True
            return
        if self._textfile_failing:
            self._report("metrics_textfile_restored", path=str(path))
        self._textfile_failing = False


def _write_atomic(path: Path, text: str) -> None:
    # A hidden name without .prom: node_exporter's textfile collector never reads it half-written.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(handle, TEXTFILE_MODE)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
