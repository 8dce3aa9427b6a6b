"""The `remedies` section: a gentle action asked of the app (a signal, a POST) when one of
its metrics reaches a level, before the restart rules have to act. Off unless written."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from watchdog.config import convert
from watchdog.config.kinds import Kind, choice, optional
from watchdog.config.reader import show
from watchdog.core.rules.remedies import REMEDIED
from watchdog.core.units import format_duration

if TYPE_CHECKING:
    from watchdog.config.reading import Reading

__all__ = ["REMEDIED", "RemediesConfig", "RemedyConfig"]

# Signals an app catches for its own housekeeping (gunicorn: HUP reloads its workers, TTIN
# and TTOU add and remove one). One that stops, kills or dumps the app is no remedy: ending
# the child is the restart rules' job, done gently and counted.
SIGNALS = ("HUP", "USR1", "USR2", "TTIN", "TTOU", "WINCH")
MAX_PATH = 2048


@dataclass(frozen=True, slots=True)
class RemedyConfig:
    level: str | None  # "warning" or "critical"; None: no remedy
    signal: str | None  # a name of SIGNALS, without SIG
    post: str | None  # a path on the health URL's origin
    cooldown: float
    settle: float


@dataclass(frozen=True, slots=True)
class RemediesConfig:
    timeout: float
    memory: RemedyConfig
    cpu: RemedyConfig
    response_time: RemedyConfig
    error_rate: RemedyConfig

    def of(self, metric: str) -> RemedyConfig:
        config: RemedyConfig = getattr(self, metric)
        return config


def remedy_signal(value: object) -> str:
    name = convert.signal_name(value).name.removeprefix("SIG")
    if name not in SIGNALS:
        raise ValueError
    return name


def app_path(value: object) -> str:
    """A path (and query) to POST to on the app's own origin: never a URL of its own."""
    text = convert.nonempty_text(value)
    if not text.startswith("/") or text.startswith("//") or len(text) > MAX_PATH:
        raise ValueError  # "//host/x" is a URL of another host, relative to the scheme
    if "\\" in text or "#" in text or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        raise ValueError
    return text


LEVEL = optional(choice("warning", "critical"))
SIGNAL = optional(
    Kind(f"a signal the app handles: {', '.join(SIGNALS[:-1])} or {SIGNALS[-1]}", remedy_signal)
)
PATH = optional(
    Kind("a path on the app's own host and port, like /admin/cleanup (no scheme or host)", app_path)
)


def remedy_rules(reading: Reading) -> None:
    """One action per remedy, a remedy that can run, and a POST that stays on this host."""
    for metric in REMEDIED:
        _one_action(reading, f"remedies.{metric}")
        _settled_in_cooldown(reading, f"remedies.{metric}")
        if reading[f"remedies.{metric}.post"] is not None:
            _post_here(reading, f"remedies.{metric}.post")


def _one_action(reading: Reading, group: str) -> None:
    level, signal, post = f"{group}.level", f"{group}.signal", f"{group}.post"
    if not reading.valid(level, signal, post):
        return
    if reading[level] is not None and reading[signal] is None and reading[post] is None:
        reading.missing(signal, f"a signal (e.g. USR1) or {post}, since {level} is set")
    elif reading[signal] is not None and reading[post] is not None:
        got = f"{show(reading[post])} beside {signal}"
        reading.problem(post, f"one action per remedy: {signal} or {post}", got)
    elif reading[level] is None and not reading.written(level):
        # Written as null, `level` switches a remedy off on purpose; left out, it is a slip.
        action = signal if reading[signal] is not None else post if reading[post] else None
        if action is not None:
            reading.missing(level, f"warning or critical, the level that calls for {action}")


def _settled_in_cooldown(reading: Reading, group: str) -> None:
    settle, cooldown = f"{group}.settle", f"{group}.cooldown"
    if reading.valid(settle, cooldown) and reading[settle] > reading[cooldown]:
        # A remedy is judged before the next one may be sent, or the two would mix.
        problem = f"at most {cooldown} ({format_duration(reading[cooldown])})"
        reading.problem(settle, problem, format_duration(reading[settle]))


def _post_here(reading: Reading, post: str) -> None:
    listen = reading["app.listen"]
    if listen is not None and listen.path is not None:
        return  # the POST goes through the held unix socket: only the app is there
    url = reading["health.url"]
    if not reading.valid(post, "health.url") or _loopback(url):
        return
    host = urlsplit(url).hostname
    problem = (
        f"{reading.name_of('health.url')} on a loopback address (localhost, 127.0.0.1, ::1)"
        " for a POST remedy: it goes to the app on this host, never elsewhere"
    )
    reading.problem(post, problem, f"{show(reading[post])} with the health URL on {host}")


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
