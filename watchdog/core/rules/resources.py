"""The resource rules: grade every metric, time critical states, cap RSS, forecast leaks.

Pure: fed with samples, probe results and `counting` (whether the child is past its
startup window); returns decisions for Policy, which owns the restart throttle.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchdog.core.observations import ProbeResult, Sample
from watchdog.core.rules.levels import (
    ErrorRate,
    Level,
    LevelChanged,
    MetricLevel,
    SustainedCritical,
)
from watchdog.core.rules.trend import Trend, steady_growth
from watchdog.core.units import format_size

if TYPE_CHECKING:
    from watchdog.config.resources import ResourcesConfig

RSS_HISTORY_POINTS = 4096  # RSS points kept per trend window, however often it is sampled


@dataclass(frozen=True, slots=True)
class OverCap:
    """The tree's RSS crossed the absolute max_rss: kill now, like the OOM killer would."""

    reason: str


@dataclass(frozen=True, slots=True)
class MemoryTrend:
    """Steady memory growth, with when each threshold will be reached (seconds, or None)."""

    trend: Trend
    rss: int
    until_warning: float | None
    until_critical: float | None
    until_max_rss: float | None


@dataclass(frozen=True, slots=True)
class DiskCritical:
    """A disk is critically full: a restart frees nothing, so clean up and say so."""

    path: str
    percent: float


ResourceDecision = LevelChanged | SustainedCritical | OverCap | MemoryTrend | DiskCritical


def _describe(what: str, unit: str = "%") -> object:
    def describe(level: Level, value: float) -> str:
        shown = f"{value:.1f}%" if unit == "%" else f"{value:.2f}s"
        if level is Level.NORMAL:
            return f"{what} back to normal: {shown}"
        return f"High {what} detected: {shown}"

    return describe


def _slow(level: Level, value: float) -> str:
    if level is Level.NORMAL:
        return f"Response time back to normal: {value:.2f}s"
    return f"SLOW REQUEST: health probe took {value:.2f}s"


class ResourceRules:
    """Levels for the child's memory and CPU, probe latency and error rate, host and disks."""

    def __init__(self, config: ResourcesConfig) -> None:
        self.config = config
        thresholds = _thresholds(config)
        self.memory = MetricLevel("memory", *thresholds["memory"], _describe("memory usage"))
        self.cpu = MetricLevel("cpu", *thresholds["cpu"], _describe("CPU usage"))
        self.response_time = MetricLevel("response_time", *thresholds["response_time"], _slow)
        self.error_rate = MetricLevel(
            "error_rate", *thresholds["error_rate"], _describe("error rate")
        )
        # The host's figures are context (no verdict, no alert) unless resources.host.alert.
        context = not config.host.alert
        self.host_memory = MetricLevel(
            "host_memory",
            *thresholds["host_memory"],
            _describe("host memory usage"),
            context=context,
        )
        self.host_cpu = MetricLevel(
            "host_cpu", *thresholds["host_cpu"], _describe("host CPU usage"), context=context
        )
        self.disks: dict[str, MetricLevel] = {}
        self.errors = ErrorRate(config.error_rate.window, config.error_rate.min_probes)
        self.rss_history: deque[tuple[float, float]] = deque()
        self.trend_at: float | None = None
        self.last_trend: MemoryTrend | None = None

    def reconfigure(self, config: ResourcesConfig) -> None:
        """A reload: new thresholds, while levels, sustain timers and the leak history go on."""
        self.config = config
        thresholds = _thresholds(config)
        for metric in self.child_metrics():
            metric.retune(*thresholds[metric.metric])
        for metric in (self.host_memory, self.host_cpu):
            metric.retune(*thresholds[metric.metric], context=not config.host.alert)
        watched = {str(path) for path in config.disk.paths}
        self.disks = {path: metric for path, metric in self.disks.items() if path in watched}
        for metric in self.disks.values():
            metric.retune(*thresholds["disk"])
        self.errors.resize(config.error_rate.window, config.error_rate.min_probes)

    def child_metrics(self) -> tuple[MetricLevel, ...]:
        """The metrics that measure the child, as opposed to the host and its disks."""
        return (self.memory, self.cpu, self.response_time, self.error_rate)

    def child_started(self) -> None:
        """A fresh start: nothing measured on the old child is shown for, or trips a restart
        of, the new one; its levels are normal until its own figures say otherwise."""
        for metric in self.child_metrics():
            metric.start_afresh()
        self.errors.clear()
        self.rss_history.clear()
        self.trend_at = None
        self.last_trend = None

    def on_sample(self, sample: Sample, counting: bool, has_child: bool) -> list[ResourceDecision]:
        decisions: list[ResourceDecision] = []
        now = sample.at
        decisions += self.host_memory.observe(sample.host_memory, now)
        decisions += self.host_cpu.observe(sample.host_cpu, now)
        for disk in sample.disks:
            metric = self.disks.setdefault(disk.path, self._disk_metric(disk.path))
            changes = metric.observe(disk.percent, now)
            decisions += changes
            if any(isinstance(c, LevelChanged) and c.new is Level.CRITICAL for c in changes):
                decisions.append(DiskCritical(disk.path, disk.percent))
        if not has_child:
            return decisions
        decisions += self.memory.observe(sample.memory_percent, now, counting)
        decisions += self.cpu.observe(sample.cpu_percent(self.config.cpu.per_core), now, counting)
        over = self.over_cap(sample.tree_rss)
        if over is not None:
            return [*decisions, over]
        if counting:
            decisions += self._forecast(sample)
        return decisions

    def over_cap(self, tree_rss: int) -> OverCap | None:
        """The hard cap, judged on any RSS figure: a full sample's or a quick check's."""
        max_rss = self.config.memory.max_rss
        if max_rss is None or tree_rss < max_rss:
            return None
        shown = f"{format_size_short(tree_rss)} >= max_rss {format_size_short(max_rss)}"
        return OverCap(f"memory over its cap: {shown}")

    def on_probe(self, probe: ProbeResult, counting: bool) -> list[ResourceDecision]:
        if not counting:
            return []
        decisions: list[ResourceDecision] = []
        # A probe that timed out took at least its latency: with the guide's 5s timeout and
        # 5s critical, that is the only way response time can ever reach critical. A probe
        # refused or answered with a bad status says nothing about speed.
        if probe.ok or probe.timed_out:
            decisions += self.response_time.observe(probe.latency, probe.at)
        rate = self.errors.add(probe.ok)
        if rate is not None:
            decisions += self.error_rate.observe(rate, probe.at)
        return decisions

    def _disk_metric(self, path: str) -> MetricLevel:
        thresholds = _thresholds(self.config)["disk"]
        return MetricLevel(f"disk:{path}", *thresholds, _describe(f"disk usage on {path}"))

    def _forecast(self, sample: Sample) -> list[ResourceDecision]:
        trend_config = self.config.trend
        # The window is bounded by time, not count: sampled every 10 ms, 3 h would be a
        # million points (115 MiB, found by the self-soak). Thinned to RSS_HISTORY_POINTS per
        # window, the history keeps its full span; the fit thins to far fewer points anyway.
        spacing = trend_config.window / RSS_HISTORY_POINTS
        if not self.rss_history or sample.at - self.rss_history[-1][0] >= spacing:
            self.rss_history.append((sample.at, float(sample.tree_rss)))
        while self.rss_history and self.rss_history[0][0] < sample.at - trend_config.window:
            self.rss_history.popleft()
        if self.trend_at is not None and sample.at - self.trend_at < trend_config.every:
            return []
        self.trend_at = sample.at
        trend = steady_growth(
            list(self.rss_history), trend_config.min_samples, trend_config.min_span
        )
        if trend is None:
            self.last_trend = None
            return []
        limit = sample.memory_limit
        memory, max_rss = self.config.memory, self.config.memory.max_rss
        self.last_trend = MemoryTrend(
            trend,
            sample.tree_rss,
            trend.seconds_until(limit * memory.warning / 100),
            trend.seconds_until(limit * memory.critical / 100),
            None if max_rss is None else trend.seconds_until(max_rss),
        )
        return [self.last_trend]


Thresholds = tuple[float, float, float | None]  # warning, critical, sustain


def _thresholds(config: ResourcesConfig) -> dict[str, Thresholds]:
    memory, cpu = config.memory, config.cpu
    latency, errors, disk = config.response_time, config.error_rate, config.disk
    return {
        "memory": (memory.warning, memory.critical, memory.sustain),
        "cpu": (cpu.warning, cpu.critical, cpu.sustain),
        "response_time": (latency.warning, latency.critical, latency.sustain),
        "error_rate": (errors.warning, errors.critical, errors.sustain),
        # Host and disks are for context: a restart of the child would not fix them.
        "host_memory": (config.host.memory.warning, config.host.memory.critical, None),
        "host_cpu": (config.host.cpu.warning, config.host.cpu.critical, None),
        "disk": (disk.warning, disk.critical, None),
    }


def format_size_short(size: int) -> str:
    """Sizes in a reason, as a person reads them: 150MB, 1.5GB, 153.2MB."""
    if size < 2**20:
        return format_size(size)
    amount, unit = (size / 2**30, "GB") if size >= 2**30 else (size / 2**20, "MB")
    return f"{amount:.1f}".removesuffix(".0") + unit
