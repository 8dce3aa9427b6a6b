"""How decisions and samples read in the logs: field names and rounding, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from watchdog.core.observations import ProbeResult, Sample
from watchdog.core.rules.levels import Level, LevelChanged
from watchdog.core.rules.resources import MemoryTrend

if TYPE_CHECKING:
    from watchdog.config import HealthConfig


class Events(Protocol):
    """Where events go: the controller's list of commands, or the logs."""

    def __call__(
        self, event: str, /, *, level: str = ..., category: str = ..., **fields: Any
    ) -> None: ...

MEMORY = ("memory",)  # events copied to the memory file as well
LATENCY = ("performance",)  # probe events are health results and latency samples
LOG_LEVEL_OF = {Level.NORMAL: "info", Level.WARNING: "warning", Level.CRITICAL: "error"}


def sample_record(sample: Sample, per_core: bool) -> dict[str, Any]:
    return {
        "procs": sample.procs,
        "rss_mb": round(sample.tree_rss / 2**20, 1),
        "rss_bytes": sample.tree_rss,
        "memory_percent": round(sample.memory_percent, 2),
        "memory_of": sample.memory_limit_source,
        "cpu_percent": round(sample.cpu_percent(per_core), 1),
        "cpu_of": "one core" if per_core else f"{sample.cpus} cores",
        "threads": sample.threads,
        "fds": sample.fds,
        "host_memory_percent": round(sample.host_memory, 1),
        "host_cpu_percent": round(sample.host_cpu, 1),
        "disks": {disk.path: disk.percent for disk in sample.disks},
    }


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def trend_record(decision: MemoryTrend) -> dict[str, Any]:
    return {
        "mb_per_hour": round(decision.trend.mb_per_hour, 2),
        "rss_mb": round(decision.rss / 2**20, 1),
        "hours_to_warning": _hours(decision.until_warning),
        "hours_to_critical": _hours(decision.until_critical),
        "hours_to_max_rss": _hours(decision.until_max_rss),
        "fit": round(decision.trend.fit, 3),
        "points": decision.trend.points,
    }


def report_probe(
    emit: Events, result: ProbeResult, counted: bool, consecutive: int, health: HealthConfig
) -> None:
    """Every probe's outcome and latency; failures while booting only at debug level."""
    latency = round(result.latency, 4)
    if result.ok:
        emit("probe_ok", category="health", also=LATENCY, status=result.status, latency=latency)
    elif counted:
        emit(
            "probe_failed",
            level="warning",
            category="health",
            also=LATENCY,
            consecutive=consecutive,
            of=health.max_failures,
            status=result.status,
            error=result.error,
            latency=latency,
        )
    else:
        # Still booting: refused connections are expected and do not count.
        emit(
            "probe_failed",
            level="debug",
            category="health",
            also=LATENCY,
            counted=False,
            error=result.error,
            latency=latency,
        )


def report_level(emit: Events, change: LevelChanged) -> None:
    """A level transition, with the guide's greppable message; memory ones in memory too.

    A context figure (the host's) is never logged as an error: a busy host is not a sick
    app, and the error log is where a person looks for what went wrong with the app.
    """
    level = LOG_LEVEL_OF[min(change.new, Level.WARNING) if change.context else change.new]
    emit(
        "level_changed",
        level=level,
        category="health",
        also=MEMORY if change.metric in ("memory", "host_memory") else (),
        metric=change.metric,
        status=change.new.label,
        previous=change.old.label,
        value=round(change.value, 3),
        message=change.message,
        context=change.context,
    )
