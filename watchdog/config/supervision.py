"""The `health`, `restart` and `logging` sections: their records and the rules across keys."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdog.config.reader import show
from watchdog.config.reading import Reading
from watchdog.config.schema import default
from watchdog.core.rules.planned import DailyWindow
from watchdog.core.units import format_duration


@dataclass(frozen=True, slots=True)
class HealthConfig:
    url: str
    interval: float
    timeout: float
    max_failures: int
    startup_timeout: float
    startup_interval: float
    expect_status: tuple[int, ...]
    # Defaults for records built by hand (tests of the probe and the policy): the schema's.
    method: str = default("health.method")
    headers: Mapping[str, str] = field(  # secrets: kept out of any repr
        default_factory=lambda: default("health.headers"), repr=False
    )
    expect_body: str | Mapping[str, Any] | None = default("health.expect_body")


@dataclass(frozen=True, slots=True)
class CrashLoopConfig:
    max_crashes: int
    window: float
    action: str


@dataclass(frozen=True, slots=True)
class RestartConfig:
    min_interval: float
    backoff_initial: float
    backoff_max: float
    backoff_reset: float
    crash_loop: CrashLoopConfig
    # Defaults for records built by hand (tests of the policy): the schema's.
    predictive: bool = default("restart.predictive")
    predictive_horizon: float = default("restart.predictive_horizon")
    strategy: str = default("restart.strategy")
    max_uptime: float | None = default("restart.max_uptime")
    max_uptime_jitter: float | None = default("restart.max_uptime_jitter")
    window: DailyWindow | None = default("restart.window")  # noqa: RUF009 - a frozen record
    method: str = default("restart.method")
    reload_signal: signal.Signals = default("restart.reload_signal")  # noqa: RUF009


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    dir: Path
    level: str
    max_bytes: int
    backup_count: int
    retention_days: int
    format: str


def health_rules(reading: Reading) -> None:
    timeout, interval = reading["health.timeout"], reading["health.interval"]
    if reading.valid("health.timeout", "health.interval") and timeout >= interval:
        given = "" if reading.written("health.timeout") else " (the default)"
        reading.problem(
            "health.timeout",
            f"less than {reading.name_of('health.interval')} ({format_duration(interval)}),"
            " so probes never overlap",
            format_duration(timeout) + given,
        )


    if reading["health.method"] == "HEAD" and reading["health.expect_body"] is not None:
        expected = "null with health.method HEAD (no body comes)"
        reading.problem("health.expect_body", expected, show(reading.raw("health.expect_body")))


def restart_rules(reading: Reading) -> None:
    initial, longest = reading["restart.backoff_initial"], reading["restart.backoff_max"]
    if reading.valid("restart.backoff_initial", "restart.backoff_max") and initial > longest:
        reading.problem(
            "restart.backoff_initial",
            f"at most restart.backoff_max ({format_duration(longest)})",
            format_duration(initial),
        )
    if reading["restart.strategy"] == "overlap" and reading["app.listen"] is None:
        reading.problem(
            "restart.strategy",
            "stop_start, or app.listen set (overlap shares the held socket)",
            show(reading["restart.strategy"]),
        )
