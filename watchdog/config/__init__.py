"""The configuration: schema with defaults, and a pure `parse` that names every bad key."""

from __future__ import annotations

import dataclasses
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdog.config import convert
from watchdog.config.app import AppConfig, HostCheck, parse_app
from watchdog.config.diagnostics import DiagnosticsConfig, parse_diagnostics
from watchdog.config.file import read_yaml
from watchdog.config.hostcheck import app_problems
from watchdog.config.listen import ListenSpec
from watchdog.config.operations import (
    AlertsConfig,
    ListenAddress,
    MetricsConfig,
    StateConfig,
    parse_alerts,
    parse_metrics,
    parse_state,
)
from watchdog.config.reader import ConfigError, Section, apply_overrides, overridden, show
from watchdog.config.resources import ResourcesConfig, parse_resources
from watchdog.core.units import format_duration, format_size

__all__ = ["AppConfig", "Config", "ConfigError", "effective", "load", "parse"]


def _duration() -> Any:
    return field(metadata={"duration": True})


@dataclass(frozen=True, slots=True)
class HealthConfig:
    url: str
    interval: float = _duration()
    timeout: float = _duration()
    max_failures: int = field()
    startup_timeout: float = _duration()
    startup_interval: float = _duration()
    expect_status: tuple[int, ...] = field()


@dataclass(frozen=True, slots=True)
class CrashLoopConfig:
    max_crashes: int
    window: float = _duration()
    action: str = field()


@dataclass(frozen=True, slots=True)
class RestartConfig:
    min_interval: float = _duration()
    backoff_initial: float = _duration()
    backoff_max: float = _duration()
    backoff_reset: float = _duration()
    crash_loop: CrashLoopConfig = field()
    predictive: bool = False
    predictive_horizon: float = field(default=1800.0, metadata={"duration": True})
    strategy: str = "stop_start"


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    dir: Path
    level: str
    max_bytes: int = field(metadata={"size": True})
    backup_count: int = field()
    retention_days: int = field()
    format: str = field()


@dataclass(frozen=True, slots=True)
class Config:
    app: AppConfig
    health: HealthConfig
    restart: RestartConfig
    logging: LoggingConfig
    resources: ResourcesConfig
    state: StateConfig
    alerts: AlertsConfig
    metrics: MetricsConfig
    diagnostics: DiagnosticsConfig


SECTIONS = (
    "app",
    "health",
    "restart",
    "logging",
    "resources",
    "state",
    "alerts",
    "metrics",
    "diagnostics",
)
REDACTED = "<redacted>"
CRASH_LOOP_ACTIONS = ("exit", "keep_trying")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "logfmt")
RESTART_STRATEGIES = ("stop_start", "overlap")
DURATION = "a positive duration like 30s, 500ms or 5m"


def _parse_health(section: Section) -> HealthConfig:
    health = HealthConfig(
        url=section.take(
            "url", "http://127.0.0.1:8000/health", convert.url, "an http:// or https:// URL"
        ),
        interval=section.take("interval", 60.0, convert.positive_duration, DURATION),
        timeout=section.take("timeout", 5.0, convert.positive_duration, DURATION),
        max_failures=section.take(
            "max_failures", 3, convert.whole(1), "a whole number of at least 1"
        ),
        startup_timeout=section.take("startup_timeout", 60.0, convert.positive_duration, DURATION),
        startup_interval=section.take("startup_interval", 0.1, convert.positive_duration, DURATION),
        expect_status=section.take(
            "expect_status", (200,), convert.statuses, "a list of HTTP status codes (100-599)"
        ),
    )
    if section.valid("timeout", "interval") and health.timeout >= health.interval:
        section.problem(
            "timeout",
            f"less than {section.name_of('interval')} ({format_duration(health.interval)}),"
            " so probes never overlap",
            format_duration(health.timeout) + ("" if "timeout" in section else " (the default)"),
        )
    return health


def _parse_restart(section: Section) -> RestartConfig:
    loop = section.section("crash_loop")
    restart = RestartConfig(
        min_interval=section.take("min_interval", 300.0, convert.positive_duration, DURATION),
        backoff_initial=section.take("backoff_initial", 1.0, convert.positive_duration, DURATION),
        backoff_max=section.take("backoff_max", 60.0, convert.positive_duration, DURATION),
        backoff_reset=section.take("backoff_reset", 60.0, convert.positive_duration, DURATION),
        crash_loop=CrashLoopConfig(
            max_crashes=loop.take(
                "max_crashes", 5, convert.whole(1), "a whole number of at least 1"
            ),
            window=loop.take("window", 600.0, convert.positive_duration, DURATION),
            action=loop.take(
                "action",
                "exit",
                convert.choice(*CRASH_LOOP_ACTIONS),
                " or ".join(CRASH_LOOP_ACTIONS),
            ),
        ),
        predictive=section.take("predictive", False, convert.flag, "true or false"),
        predictive_horizon=section.take(
            "predictive_horizon", 1800.0, convert.positive_duration, DURATION
        ),
        strategy=section.take(
            "strategy",
            "stop_start",
            convert.choice(*RESTART_STRATEGIES),
            " or ".join(RESTART_STRATEGIES),
        ),
    )
    loop.finish()
    if (
        section.valid("backoff_initial", "backoff_max")
        and restart.backoff_initial > restart.backoff_max
    ):
        section.problem(
            "backoff_initial",
            f"at most restart.backoff_max ({format_duration(restart.backoff_max)})",
            format_duration(restart.backoff_initial),
        )
    return restart


def _parse_logging(section: Section, base_dir: Path) -> LoggingConfig:
    return LoggingConfig(
        dir=section.take(
            "dir", (base_dir / "logs").resolve(), convert.path(base_dir), "a directory path"
        ),
        level=section.take("level", "info", convert.choice(*LOG_LEVELS), " or ".join(LOG_LEVELS)),
        max_bytes=section.take(
            "max_bytes", 10 * 1024**2, convert.positive_size, "a size like 10MB"
        ),
        backup_count=section.take(
            "backup_count", 5, convert.whole(0), "a whole number of at least 0"
        ),
        retention_days=section.take(
            "retention_days", 30, convert.whole(1), "a whole number of days, at least 1"
        ),
        format=section.take(
            "format", "json", convert.choice(*LOG_FORMATS), " or ".join(LOG_FORMATS)
        ),
    )


def parse(
    raw: object,
    base_dir: Path,
    python: str = sys.executable,
    host_check: HostCheck | None = None,
    flags: Mapping[str, str] | None = None,
) -> Config:
    """Validate a loaded YAML document; raise ConfigError listing every problem found.

    `host_check` adds what would stop the app from starting on this host (hostcheck.py);
    `flags` names the command-line flag that set a key (key path -> flag), for its errors.
    """
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError([f"expected a mapping of sections at the top level, got {show(raw)}"])
    root = Section(raw, "", problems, flags=flags)
    sections = {name: root.section(name) for name in SECTIONS}
    logging = _parse_logging(sections["logging"], base_dir)
    config = Config(
        app=parse_app(sections["app"], base_dir, python, host_check),
        health=_parse_health(sections["health"]),
        restart=_parse_restart(sections["restart"]),
        logging=logging,
        resources=parse_resources(sections["resources"], logging.dir, base_dir),
        state=parse_state(sections["state"], logging.dir, base_dir),
        alerts=parse_alerts(sections["alerts"]),
        metrics=parse_metrics(sections["metrics"], base_dir),
        diagnostics=parse_diagnostics(sections["diagnostics"], logging.dir, base_dir),
    )
    if config.restart.strategy == "overlap" and config.app.listen is None:
        sections["restart"].problem(
            "strategy",
            "stop_start, or app.listen set (overlap shares the held socket)",
            show(config.restart.strategy),
        )
    for section in (*sections.values(), root):
        section.finish()
    if problems:
        raise ConfigError(problems)
    return config


def effective(value: Any) -> Any:
    """The config as plain YAML-ready data, durations spelled the way a person writes them."""
    if isinstance(value, Path | ListenAddress | ListenSpec):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        result = {}
        for item in dataclasses.fields(value):
            attribute = getattr(value, item.name)
            if item.metadata.get("secret"):
                result[item.name] = _redacted(attribute)
            elif item.metadata.get("duration"):
                result[item.name] = format_duration(attribute)
            elif item.metadata.get("size") and attribute is not None:
                result[item.name] = format_size(attribute)
            else:
                result[item.name] = effective(attribute)
        if isinstance(value, AppConfig) and value.shell:
            result["command"] = value.command[2]
        return result
    if isinstance(value, signal.Signals):
        return value.name.removeprefix("SIG")
    if isinstance(value, Mapping):
        return {key: effective(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [effective(item) for item in value]
    return value


def _redacted(secret: Any) -> Any:
    if isinstance(secret, Mapping):
        return dict.fromkeys(secret, REDACTED)
    return REDACTED if secret else secret


def load(
    path: Path,
    overrides: Mapping[str, Mapping[str, object]] | None = None,
    *,
    flags: Mapping[str, str] | None = None,
    check_host: bool = False,
) -> Config:
    """Read, override and validate a config file; relative paths resolve against its folder.

    `flags`: the flag of each override (key path -> flag), named in its errors.
    `check_host`: also what would stop the app from starting here (a missing app.cwd, a
    command not found), for `check`, `run` and a reload.
    """
    written = read_yaml(path)
    document = apply_overrides(written, overrides or {})
    given = overridden(written, overrides or {}, flags or {})
    host_check = app_problems if check_host else None
    return parse(document, path.resolve().parent, host_check=host_check, flags=given)
