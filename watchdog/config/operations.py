"""The operations sections: where the state file lives, alerts, and Prometheus metrics."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from watchdog.config import convert
from watchdog.config.reader import Section, hidden, secret_mapping

DURATION = "a positive duration like 30s, 500ms or 5m"
ALERT_KINDS = ("restart", "crash", "crash_loop", "restart_recommended", "critical", "recovered")
DEFAULT_ALERT_KINDS = ("restart", "crash", "crash_loop", "restart_recommended", "critical")
SECRET = {"secret": True}  # shown as <redacted> by `watchdog check`, never logged


@dataclass(frozen=True, slots=True)
class StateConfig:
    dir: Path


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str = field(metadata=SECRET)
    timeout: float = field(metadata={"duration": True})
    headers: Mapping[str, str] = field(metadata=SECRET)


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    webhook: WebhookConfig | None
    command: tuple[str, ...] | None
    command_timeout: float = field(metadata={"duration": True})
    events: tuple[str, ...] = field()
    max_per_minute: int = field()


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    listen: ListenAddress | None
    allow_remote: bool
    textfile: Path | None


def parse_state(section: Section, log_dir: Path, base_dir: Path) -> StateConfig:
    directory = section.take("dir", None, convert.optional(convert.path(base_dir)), "a directory")
    return StateConfig(dir=directory or log_dir)


def _take_secret(section: Section, key: str, convert_value: Any, expected: str) -> Any:
    if key not in section:
        section.take(key, None, lambda value: value, expected)  # marks the key as known
        return None
    raw = section.take(key, None, lambda value: value, expected)
    try:
        return convert_value(raw)
    except (ValueError, TypeError):
        section.problem(key, expected, hidden(raw))
        return None


def _webhook_url(value: object) -> str:
    """A URL httpx will accept too: checked here, not found out when the first alert goes."""
    import httpx  # noqa: PLC0415 - only with a webhook: `status` and `check` stay light

    url = convert.url(value)
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError from exc
    if any(ord(character) < 33 for character in url):  # spaces, tabs, newlines
        raise ValueError
    return url


# What HTTP allows (RFC 9110): a name is a token; a value is visible ASCII, with spaces and
# tabs only between its words. A CR or LF in a value passed check, then every alert failed.
HEADER_NAME = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
HEADER_VALUE = re.compile(r"(?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?")
HEADER_NAMES = "header names of letters, digits and !#$%&'*+-.^_`|~"


def _header_name(name: str) -> bool:
    return HEADER_NAME.fullmatch(name) is not None


def _header_value(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a string value")
    if HEADER_VALUE.fullmatch(value) is None:
        raise ValueError(
            "printable ASCII, spaces only between words (no CR, LF, NUL or other control"
            " character)"
        )
    return value


def _kinds(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) and item in ALERT_KINDS for item in items):
        raise ValueError
    return tuple(dict.fromkeys(items))


def parse_alerts(section: Section) -> AlertsConfig:
    hook = section.section("webhook", secret=True)  # a bare URL written here is a secret too
    url = _take_secret(hook, "url", _webhook_url, "an http:// or https:// URL")
    timeout = hook.take("timeout", 5.0, convert.positive_duration, DURATION)
    headers = secret_mapping(hook, "headers", _header_name, HEADER_NAMES, _header_value)
    if hook.valid("url") and url is None and ("headers" in hook or "timeout" in hook):
        hook.missing("url", "the webhook's URL, since other webhook settings are given")
    hook.finish()
    command = section.take(
        "command", None, convert.optional(convert.command_words), "a list of arguments (no shell)"
    )
    return AlertsConfig(
        webhook=WebhookConfig(url, timeout, headers or MappingProxyType({})) if url else None,
        command=tuple(command) if command else None,
        command_timeout=section.take("command_timeout", 10.0, convert.positive_duration, DURATION),
        events=section.take(
            "events", DEFAULT_ALERT_KINDS, _kinds, "a list of: " + ", ".join(ALERT_KINDS)
        ),
        max_per_minute=section.take(
            "max_per_minute", 6, convert.whole(1), "a whole number of at least 1"
        ),
    )


def listen_address(value: object) -> ListenAddress:
    """host:port, [v6]:port; the host must be an IP address (no resolver at start-up)."""
    text = convert.nonempty_text(value).strip()
    host, separator, port_text = text.rpartition(":")
    if not separator or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError
    host = host.removeprefix("[").removesuffix("]") if host.startswith("[") else host
    if host == "localhost":
        host = "127.0.0.1"
    ipaddress.ip_address(host)  # ValueError unless an address
    return ListenAddress(host, int(port_text))


def parse_metrics(section: Section, base_dir: Path) -> MetricsConfig:
    listen = section.take(
        "listen", None, convert.optional(listen_address), "an address like 127.0.0.1:9464"
    )
    allow_remote = section.take("allow_remote", False, convert.flag, "true or false")
    if (
        listen is not None
        and not allow_remote
        and not ipaddress.ip_address(listen.host).is_loopback
    ):
        section.problem(
            "listen",
            "a loopback address (127.0.0.1 or ::1), or metrics.allow_remote: true",
            str(listen),
        )
    return MetricsConfig(
        listen=listen,
        allow_remote=allow_remote,
        textfile=section.take("textfile", None, convert.optional(convert.path(base_dir)), "a path"),
    )
