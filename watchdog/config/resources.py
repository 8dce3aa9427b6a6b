"""The `resources` section: sampling pace and the guide's thresholds, one block per metric.

Every default is the guide's, declared in the schema."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from watchdog.config.reading import Reading
from watchdog.config.schema import GROUPS, KEYS
from watchdog.core.rules.resources import RSS_HISTORY_POINTS
from watchdog.core.units import format_duration

__all__ = ["RSS_HISTORY_POINTS", "ResourcesConfig"]

# Signals whose default action stops, continues or ignores a process rather than ending it.
NOT_ENDING = frozenset(
    f"SIG{name}" for name in ("STOP", "TSTP", "TTIN", "TTOU", "CONT", "CHLD", "URG", "WINCH")
)


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    warning: float
    critical: float
    sustain: float
    max_rss: int | None
    cap_interval: float
    max_worker_rss: int | None
    worker_signal: signal.Signals
    worker_recycles_per_hour: int


@dataclass(frozen=True, slots=True)
class CpuConfig:
    warning: float
    critical: float
    sustain: float
    per_core: bool


@dataclass(frozen=True, slots=True)
class ResponseTimeConfig:
    warning: float
    critical: float
    sustain: float


@dataclass(frozen=True, slots=True)
class ErrorRateConfig:
    warning: float
    critical: float
    sustain: float
    window: int
    min_probes: int


@dataclass(frozen=True, slots=True)
class DiskConfig:
    paths: tuple[Path, ...]
    warning: float
    critical: float


@dataclass(frozen=True, slots=True)
class TrendConfig:
    window: float
    every: float
    min_samples: int
    min_span: float


@dataclass(frozen=True, slots=True)
class HostLevels:
    warning: float
    critical: float


@dataclass(frozen=True, slots=True)
class HostConfig:
    """The host's own memory and CPU: context for the app's figures, not a verdict on it."""

    memory: HostLevels
    cpu: HostLevels
    alert: bool


@dataclass(frozen=True, slots=True)
class DegradationConfig:
    """Probe latency against the child's own baseline: when it has aged, not when it is sick."""

    ratio: float | None
    floor: float
    sustain: float
    warmup: float
    probes: int
    window: int


@dataclass(frozen=True, slots=True)
class ResourcesConfig:
    interval: float
    history_size: int
    memory: MemoryConfig
    cpu: CpuConfig
    response_time: ResponseTimeConfig
    error_rate: ErrorRateConfig
    disk: DiskConfig
    trend: TrendConfig
    host: HostConfig
    degradation: DegradationConfig


def resource_rules(reading: Reading) -> None:
    """Levels in order, the disks watched, and a leak trend that can be fitted."""
    for path in GROUPS:
        if f"{path}.warning" in KEYS and f"{path}.critical" in KEYS:
            _ordered(reading, f"{path}.warning", f"{path}.critical")
    _check_workers(reading)
    paths = reading["resources.disk.paths"]  # none written: the logs' filesystem and /
    reading["resources.disk.paths"] = tuple(paths or (reading["logging.dir"], Path("/")))
    _check_trend(reading)


def _ordered(reading: Reading, low: str, high: str) -> None:
    if reading.valid(low, high) and reading[low] >= reading[high]:
        shown = KEYS[high].kind.spelled
        problem = f"less than {reading.name_of(high)} ({shown(reading[high])})"
        reading.problem(low, problem, KEYS[low].kind.spelled(reading[low]))


def _check_workers(reading: Reading) -> None:
    worker_cap, cap = "resources.memory.max_worker_rss", "resources.memory.max_rss"
    if reading[worker_cap] is not None and reading[cap] is not None:
        _ordered(reading, worker_cap, cap)  # the tree holds the worker: its cap would act first
    sent = reading["resources.memory.worker_signal"]
    if reading.valid("resources.memory.worker_signal") and sent.name in NOT_ENDING:
        # A worker stopped, not ended, is never replaced: each one would be lost in turn.
        problem = "a signal that ends a process, like TERM, INT, QUIT or KILL"
        reading.problem("resources.memory.worker_signal", problem, sent.name.removeprefix("SIG"))


def _check_trend(reading: Reading) -> None:
    """A trend that can never be fitted is a silent no-forecast: say so at start instead."""
    window, interval = reading["resources.trend.window"], reading["resources.interval"]
    min_span = reading["resources.trend.min_span"]
    min_samples = reading["resources.trend.min_samples"]
    if reading.valid("resources.trend.window", "resources.trend.min_span") and min_span > window:
        problem = f"at most resources.trend.window ({format_duration(window)})"
        reading.problem("resources.trend.min_span", problem, format_duration(min_span))
    # Only the trend's own settings can contradict: a coarse `interval` alone just means
    # fewer samples (and a later first forecast), which is the operator's choice.
    if reading.valid("resources.trend.min_samples") and min_samples > RSS_HISTORY_POINTS:
        problem = f"at most {RSS_HISTORY_POINTS}, the RSS points kept per trend window"
        reading.problem("resources.trend.min_samples", problem, str(min_samples))
        return
    chosen = reading.written("resources.trend.window", "resources.trend.min_samples")
    fits = ("resources.trend.window", "resources.trend.min_samples", "resources.interval")
    if chosen and reading.valid(*fits):
        fitting = int(window // interval) + 1
        if min_samples > fitting:
            problem = (
                f"at most {fitting}, the samples resources.interval"
                f" ({format_duration(interval)}) gives in resources.trend.window"
                f" ({format_duration(window)})"
            )
            reading.problem("resources.trend.min_samples", problem, str(min_samples))
