"""The `resources` section: sampling pace and the guide's thresholds, one block per metric."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdog.config import convert
from watchdog.config.reader import Section
from watchdog.core.resources import RSS_HISTORY_POINTS
from watchdog.core.units import format_duration

DURATION = "a positive duration like 30s, 500ms or 5m"
PERCENT = "a percentage above 0 and at most 100"


def _duration() -> Any:
    return field(metadata={"duration": True})


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    warning: float
    critical: float
    sustain: float = _duration()
    max_rss: int | None = field(metadata={"size": True})
    cap_interval: float = field(default=0.1, metadata={"duration": True})


@dataclass(frozen=True, slots=True)
class CpuConfig:
    warning: float
    critical: float
    sustain: float = _duration()
    per_core: bool = field()


@dataclass(frozen=True, slots=True)
class ResponseTimeConfig:
    warning: float = _duration()
    critical: float = _duration()
    sustain: float = _duration()


@dataclass(frozen=True, slots=True)
class ErrorRateConfig:
    warning: float
    critical: float
    sustain: float = _duration()
    window: int = field()
    min_probes: int = field()


@dataclass(frozen=True, slots=True)
class DiskConfig:
    paths: tuple[Path, ...]
    warning: float
    critical: float


@dataclass(frozen=True, slots=True)
class TrendConfig:
    window: float = _duration()
    every: float = _duration()
    min_samples: int = field()
    min_span: float = _duration()


@dataclass(frozen=True, slots=True)
class HostLevels:
    warning: float
    critical: float


@dataclass(frozen=True, slots=True)
class HostConfig:
    """The host's own memory and CPU: context for the app's figures, not a verdict on it."""

    memory: HostLevels
    cpu: HostLevels
    alert: bool = field()


@dataclass(frozen=True, slots=True)
class ResourcesConfig:
    interval: float = _duration()
    history_size: int = field()
    memory: MemoryConfig = field()
    cpu: CpuConfig = field()
    response_time: ResponseTimeConfig = field()
    error_rate: ErrorRateConfig = field()
    disk: DiskConfig = field()
    trend: TrendConfig = field()
    host: HostConfig = field()


def _levels(section: Section, warning: float, critical: float) -> tuple[float, float]:
    low = section.take("warning", warning, convert.percent, PERCENT)
    high = section.take("critical", critical, convert.percent, PERCENT)
    _ordered(section, low, high, f"{high:g}")
    return low, high


def _ordered(section: Section, low: float, high: float, shown_high: str) -> None:
    if section.valid("warning", "critical") and low >= high:
        section.problem("warning", f"less than critical ({shown_high})", f"{low:g}")


def _sustain(section: Section, default: float) -> float:
    return section.take("sustain", default, convert.positive_duration, DURATION)


def parse_resources(section: Section, log_dir: Path, base_dir: Path) -> ResourcesConfig:
    """The resources section; every default is the guide's, named in README."""
    memory, cpu = section.section("memory"), section.section("cpu")
    latency, errors = section.section("response_time"), section.section("error_rate")
    disk, trend = section.section("disk"), section.section("trend")
    host = section.section("host")
    host_memory, host_cpu = host.section("memory"), host.section("cpu")
    memory_levels = _levels(memory, 80.0, 90.0)
    cpu_levels = _levels(cpu, 85.0, 95.0)
    slow = latency.take("warning", 2.0, convert.positive_duration, DURATION)
    very_slow = latency.take("critical", 5.0, convert.positive_duration, DURATION)
    _ordered(latency, slow, very_slow, format_duration(very_slow))
    paths = disk.take(
        "paths", None, convert.optional(_paths(base_dir)), "a list of directory paths"
    )
    config = ResourcesConfig(
        interval=section.take("interval", 10.0, convert.positive_duration, DURATION),
        history_size=section.take("history_size", 100, convert.whole(1), "at least 1"),
        # Memory gets a shorter sustain: memory that stays critical tends to end in the
        # kernel's OOM kill within minutes, a SIGKILL with no graceful stop at all.
        memory=MemoryConfig(
            *memory_levels,
            sustain=_sustain(memory, 60.0),
            max_rss=memory.take(
                "max_rss", None, convert.optional(convert.positive_size), "a size like 1.5GB"
            ),
            # The cap is checked on its own, cheaply and often: a leak of 20 MB/s would
            # overshoot a cap by 200 MB if it waited for the 10 s sample.
            cap_interval=memory.take("cap_interval", 0.1, convert.positive_duration, DURATION),
        ),
        cpu=CpuConfig(
            *cpu_levels,
            sustain=_sustain(cpu, 300.0),
            per_core=cpu.take("per_core", False, convert.flag, "true or false"),
        ),
        response_time=ResponseTimeConfig(slow, very_slow, _sustain(latency, 300.0)),
        error_rate=ErrorRateConfig(
            *_levels(errors, 5.0, 10.0),
            sustain=_sustain(errors, 300.0),
            window=errors.take("window", 100, convert.whole(1), "a number of probes, at least 1"),
            min_probes=errors.take("min_probes", 20, convert.whole(1), "a number of probes"),
        ),
        disk=DiskConfig(
            tuple(paths) if paths else (log_dir, Path("/")),
            *_levels(disk, 90.0, 95.0),
        ),
        trend=TrendConfig(
            window=trend.take("window", 3 * 3600.0, convert.positive_duration, DURATION),
            every=trend.take("every", 600.0, convert.positive_duration, DURATION),
            min_samples=trend.take("min_samples", 30, convert.whole(3), "a number, at least 3"),
            min_span=trend.take("min_span", 1800.0, convert.positive_duration, DURATION),
        ),
        # A host busy with other work says nothing about the app: no say in the verdict
        # or alerts unless asked for, and figures above the app's. A build or a backup
        # keeps a small host's CPU above 90 % for minutes, so only a saturated one (98 %)
        # is critical; with 5 % of memory left the kernel reclaims and swaps hard.
        host=HostConfig(
            memory=HostLevels(*_levels(host_memory, 90.0, 95.0)),
            cpu=HostLevels(*_levels(host_cpu, 90.0, 98.0)),
            alert=host.take("alert", False, convert.flag, "true or false"),
        ),
    )
    _check_trend(section, trend, config)
    for block in (memory, cpu, latency, errors, disk, trend, host_memory, host_cpu, host):
        block.finish()
    return config




def _check_trend(section: Section, trend: Section, config: ResourcesConfig) -> None:
    """A trend that can never be fitted is a silent no-forecast: say so at start instead."""
    window, interval = config.trend.window, config.interval
    if trend.valid("window", "min_span") and config.trend.min_span > window:
        shown = format_duration(window)
        problem = f"at most resources.trend.window ({shown})"
        trend.problem("min_span", problem, format_duration(config.trend.min_span))
    # Only the trend's own settings can contradict: a coarse `interval` alone just means
    # fewer samples (and a later first forecast), which is the operator's choice.
    if trend.valid("min_samples") and config.trend.min_samples > RSS_HISTORY_POINTS:
        problem = f"at most {RSS_HISTORY_POINTS}, the RSS points kept per trend window"
        trend.problem("min_samples", problem, str(config.trend.min_samples))
        return
    chosen = "window" in trend or "min_samples" in trend
    if chosen and trend.valid("window", "min_samples") and section.valid("interval"):
        fitting = int(window // interval) + 1
        if config.trend.min_samples > fitting:
            problem = (
                f"at most {fitting}, the samples resources.interval"
                f" ({format_duration(interval)}) gives in resources.trend.window"
                f" ({format_duration(window)})"
            )
            trend.problem("min_samples", problem, str(config.trend.min_samples))


def _paths(base_dir: Path) -> Callable[[object], list[Path]]:
    def paths(value: object) -> list[Path]:
        if not isinstance(value, list):
            raise ValueError
        return [convert.path(base_dir)(item) for item in value]

    return paths
