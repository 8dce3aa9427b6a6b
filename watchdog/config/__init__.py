"""The configuration: a pure `parse` by the schema (schema.py) that names every bad key."""

from __future__ import annotations

import dataclasses
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.config.app import AppConfig, HostCheck, app_rules
from watchdog.config.diagnostics import DiagnosticsConfig, diagnostics_rules
from watchdog.config.file import read_yaml
from watchdog.config.hostcheck import app_problems
from watchdog.config.kinds import Group
from watchdog.config.listen import ListenAddress, ListenSpec
from watchdog.config.operations import (
    AlertsConfig,
    MetricsConfig,
    StateConfig,
    WebhookConfig,
    alerts_rules,
    metrics_rules,
    state_rules,
)
from watchdog.config.reader import ConfigError, Section, apply_overrides, overridden, show
from watchdog.config.reading import Reading
from watchdog.config.remedies import REMEDIED, RemediesConfig, RemedyConfig, remedy_rules
from watchdog.config.resources import (
    CpuConfig,
    DegradationConfig,
    DiskConfig,
    ErrorRateConfig,
    HostConfig,
    HostLevels,
    MemoryConfig,
    ResourcesConfig,
    ResponseTimeConfig,
    TrendConfig,
    resource_rules,
)
from watchdog.config.schema import CHILDREN
from watchdog.config.supervision import (
    CrashLoopConfig,
    HealthConfig,
    LoggingConfig,
    RestartConfig,
    health_rules,
    restart_rules,
)
from watchdog.core.rules.planned import DailyWindow

__all__ = [
    "AppConfig",
    "Config",
    "ConfigError",
    "CrashLoopConfig",
    "HealthConfig",
    "RestartConfig",
    "effective",
    "load",
    "parse",
]


@dataclass(frozen=True, slots=True)
class Config:
    app: AppConfig
    health: HealthConfig
    restart: RestartConfig
    logging: LoggingConfig
    resources: ResourcesConfig
    remedies: RemediesConfig
    state: StateConfig
    alerts: AlertsConfig
    metrics: MetricsConfig
    diagnostics: DiagnosticsConfig


# The record each group of the schema is read into: group path -> its type.
CLASSES: dict[str, Callable[..., Any]] = {
    "": Config,
    "app": AppConfig,
    "health": HealthConfig,
    "restart": RestartConfig,
    "restart.crash_loop": CrashLoopConfig,
    "logging": LoggingConfig,
    "resources": ResourcesConfig,
    "resources.memory": MemoryConfig,
    "resources.cpu": CpuConfig,
    "resources.response_time": ResponseTimeConfig,
    "resources.error_rate": ErrorRateConfig,
    "resources.disk": DiskConfig,
    "resources.trend": TrendConfig,
    "resources.host": HostConfig,
    "resources.host.memory": HostLevels,
    "resources.host.cpu": HostLevels,
    "resources.degradation": DegradationConfig,
    "remedies": RemediesConfig,
    **{f"remedies.{metric}": RemedyConfig for metric in REMEDIED},
    "state": StateConfig,
    "alerts": AlertsConfig,
    "alerts.webhook": WebhookConfig,
    "metrics": MetricsConfig,
    "diagnostics": DiagnosticsConfig,
}
_PATHS: dict[Any, str] = {record: path for path, record in CLASSES.items()}
# The rules across keys, run once their section is read (a later section's may look back).
RULES: dict[str, tuple[Callable[[Reading], None], ...]] = {
    "health": (health_rules,),
    "restart": (restart_rules,),
    "resources": (resource_rules,),
    "remedies": (remedy_rules,),
    "state": (state_rules,),
    "alerts": (alerts_rules,),
    "metrics": (metrics_rules,),
    "diagnostics": (diagnostics_rules,),
}
REDACTED = "<redacted>"


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
    reading = Reading({"": root}, base_dir)
    for group in CHILDREN[""]:
        reading.read(group.path)
        if group.path == "app":
            app_rules(reading, python, host_check)
        for rule in RULES.get(group.path, ()):
            rule(reading)
        reading.finish(group.path)
    root.finish()
    if problems:
        raise ConfigError(problems)
    config: Config = reading.build("", CLASSES)
    return config


def effective(value: Any) -> Any:
    """The config (or one of its sections) as plain YAML-ready data, the way a person writes
    it: durations and sizes spelled, secrets redacted."""
    path = _PATHS.get(type(value))
    return _plain(value) if path is None else _shown(value, path)


def _shown(record: Any, path: str) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for entry in CHILDREN[path]:
        value = getattr(record, entry.name)
        if isinstance(entry, Group):
            shown[entry.name] = None if value is None else _shown(value, entry.path)
        elif entry.secret:
            shown[entry.name] = _redacted(value)
        else:
            shown[entry.name] = _plain(entry.kind.shown(value))
    if isinstance(record, AppConfig) and record.shell:
        shown["command"] = record.command[2]  # the line, as written for /bin/sh -c
    return shown


def _plain(value: Any) -> Any:
    if isinstance(value, Path | ListenAddress | ListenSpec | DailyWindow):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return effective(value)
    if isinstance(value, signal.Signals):
        return value.name.removeprefix("SIG")
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
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
