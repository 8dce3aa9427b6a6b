"""The operations sections: where the state file lives, alerts, and Prometheus metrics."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from watchdog.config.convert import ALERT_KINDS
from watchdog.config.listen import ListenAddress
from watchdog.config.reading import Reading

__all__ = ["ALERT_KINDS", "AlertsConfig", "ListenAddress", "MetricsConfig", "WebhookConfig"]


@dataclass(frozen=True, slots=True)
class StateConfig:
    dir: Path


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str  # a secret, as are the header values: never logged, shown as <redacted>
    timeout: float
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    webhook: WebhookConfig | None
    command: tuple[str, ...] | None
    command_timeout: float
    events: tuple[str, ...]
    max_per_minute: int


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    listen: ListenAddress | None
    allow_remote: bool
    textfile: Path | None


def state_rules(reading: Reading) -> None:
    reading["state.dir"] = reading["state.dir"] or reading["logging.dir"]


def alerts_rules(reading: Reading) -> None:
    url, others = "alerts.webhook.url", ("alerts.webhook.headers", "alerts.webhook.timeout")
    if reading.valid(url) and reading[url] is None and reading.written(*others):
        reading.missing(url, "the webhook's URL, since other webhook settings are given")


def metrics_rules(reading: Reading) -> None:
    listen = reading["metrics.listen"]
    if listen is None or reading["metrics.allow_remote"]:
        return
    if not ipaddress.ip_address(listen.host).is_loopback:
        reading.problem(
            "metrics.listen",
            "a loopback address (127.0.0.1 or ::1), or metrics.allow_remote: true",
            str(listen),
        )
