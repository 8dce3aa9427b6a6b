"""The console: lines for a person at a terminal, or journald's short `key=value` lines.

Pure: which renderer a stream gets (a terminal or not, NO_COLOR, --verbose), how an event
reads within WIDTH columns, the start-up summary and the heartbeat's pace. logs.py writes
what these return; the files get every event whatever the console shows.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import textwrap
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from watchdog.core.units import format_duration, format_size, format_span

WIDTH = 100
HEARTBEAT_EVERY = 60.0  # seconds: the longest a terminal stays silent while all is well
# Events of every probe and sample: in the files always, on a terminal only with --verbose.
PER_TICK = frozenset({"probe_ok", "resource_sample"})
_LOGFMT_BARE = re.compile(r'[^\s="\\]+')
_COLOURS = {"warning": "33", "error": "31", "critical": "1;31", "time": "2", "event": "1"}
_SKIPPED = frozenset({"timestamp", "level", "event", "category", "app", "also"})


@dataclass(frozen=True, slots=True)
class ConsoleChoice:
    """How the console renders: for a person (`human`), in colour, every event or not."""

    human: bool
    colour: bool
    verbose: bool

    def shows(self, event: str, level: str) -> bool:
        if not self.human or self.verbose:
            return True  # off a terminal every event, as journald has always had them
        return event not in PER_TICK and level != "debug"


def choose_console(isatty: bool, env: Mapping[str, str], verbose: bool = False) -> ConsoleChoice:
    """A terminal gets lines for a person; colour unless NO_COLOR is set and not empty
    (https://no-color.org); a pipe or journald gets the `key=value` lines, never colour."""
    return ConsoleChoice(human=isatty, colour=isatty and not env.get("NO_COLOR"), verbose=verbose)


def logfmt_value(value: object) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, int | float):
        return str(value)
    else:
        text = json.dumps(value, default=repr, ensure_ascii=False)
    return text if _LOGFMT_BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def columns(text: str) -> int:
    """The columns `text` takes at a terminal: wide (East Asian) characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def fit(text: str, width: int = WIDTH) -> str:
    """`text` cut to `width` columns, an ellipsis saying that it was."""
    if columns(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        used += columns(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def _paint(text: str, what: str, colour: bool) -> str:
    code = _COLOURS.get(what)
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def _clock(stamp: object) -> str:
    """The time of day of an event's UTC timestamp, marked as UTC: `17:07:52Z`."""
    try:
        return f"{datetime.fromisoformat(str(stamp)):%H:%M:%S}Z"
    except ValueError:
        return "--:--:--Z"


def _seconds(value: object) -> str:
    return format_duration(value) if isinstance(value, int | float) else "?"


def _healthy(fields: Mapping[str, Any]) -> str:
    down = fields.get("downtime")
    startup = _seconds(fields.get("startup"))
    text = f"app healthy, pid {fields.get('pid')}, {startup} after its start"
    return text + (f", {_seconds(down)} without an answer" if isinstance(down, int | float) else "")


def _started(fields: Mapping[str, Any]) -> str:
    previous = fields.get("previous_pid")
    replacing = f", replacing pid {previous}" if previous else ""
    return f"app started, pid {fields.get('pid')}{replacing}"


def _probe_failed(fields: Mapping[str, Any]) -> str | None:
    if not fields.get("counted", True):
        return None
    why = fields.get("error") or f"status {fields.get('status')}"
    return f"probe failed {fields.get('consecutive')}/{fields.get('of')}: {why}"


def _stopped(fields: Mapping[str, Any]) -> str:
    text = f"app stopped ({fields.get('exit')}), pid {fields.get('pid')}, in "
    text += _seconds(fields.get("took"))
    if fields.get("sigkilled"):
        text += f", {fields['sigkilled']} process(es) needed SIGKILL"
    if fields.get("survivors"):
        text += f", {fields['survivors']} still running"
    return text


# A sentence for the events a person most often reads; the others get the generic line.
_SENTENCES: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "watchdog_started": lambda f: f"watchdog {f.get('version')} started, pid {f.get('pid')}",
    "child_started": _started,
    "child_healthy": _healthy,
    "restart_triggered": lambda f: f"restarting pid {f.get('pid')}: {f.get('reason')}",
    "child_exited": lambda f: (
        f"app exited ({f.get('exit')}), pid {f.get('pid')}, up {_seconds(f.get('uptime'))}"
    ),
    "restart_scheduled": lambda f: (
        f"next start in {_seconds(f.get('delay'))} ({f.get('crashes')} crash(es))"
    ),
    "child_stopping": lambda f: (
        f"stopping pid {f.get('pid')}: {f.get('signal')}, SIGKILL after"
        f" {_seconds(f.get('timeout'))}"
    ),
    "child_stopped": _stopped,
    "probe_failed": _probe_failed,
    "level_changed": lambda f: str(f["message"]) if f.get("message") else None,
}


def human_lines(event: Mapping[str, Any], colour: bool, width: int = WIDTH) -> list[str]:
    """An event as a person reads it: time, level when it matters, a sentence or the fields;
    a traceback on lines of its own. Every line fits `width` columns."""
    name, level = str(event.get("event", "")), str(event.get("level", "info"))
    fields = {key: value for key, value in event.items() if key not in _SKIPPED}
    exception = fields.pop("exception", None)
    sentence = _SENTENCES.get(name)
    text = sentence(fields) if sentence else None
    if text is None:
        details = " ".join(f"{key}={logfmt_value(value)}" for key, value in fields.items())
        text = f"{name} {details}".rstrip()
    head = f"{_clock(event.get('timestamp'))} "
    tag = "" if level in ("info", "debug") else f"{level.upper()} "
    line = fit(head + tag + text, width)
    body = line[len(head) + len(tag) :]
    shown = [_paint(head, "time", colour) + _paint(tag, level, colour) + body]
    if isinstance(exception, str):
        shown += [fit("  " + part, width) for part in exception.splitlines()]
    return shown


def _public_url(url: str) -> str:
    """The URL without a user or password it may carry."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def startup_lines(config: Any, verbose: bool, width: int = WIDTH) -> list[str]:
    """What a person wants to see once at start: what runs, how it is watched, where logs go."""
    app, health, res, logging = config.app, config.health, config.resources, config.logging
    command = shlex.join(app.command)  # as started: /bin/sh -c '...' when app.shell
    memory = f"memory {res.memory.warning:g}%/{res.memory.critical:g}%"
    if res.memory.max_rss is not None:
        memory += f" (max_rss {format_size(res.memory.max_rss)})"
    limits = (
        f"{memory}, cpu {res.cpu.warning:g}%/{res.cpu.critical:g}%, latency "
        f"{format_duration(res.response_time.warning)}/"
        f"{format_duration(res.response_time.critical)} (warning/critical)"
    )
    pace = (
        f"probe every {format_duration(health.interval)} (timeout "
        f"{format_duration(health.timeout)}, restart after {health.max_failures} failures), "
        f"sample every {format_duration(res.interval)}"
    )
    rows = [
        ("command", command),
        ("health", _public_url(health.url)),
        ("pace", pace),
        ("limits", limits),
        ("logs", str(logging.dir)),
    ]
    if not verbose:
        rows.append(("", "probes and samples go to the log files only (--verbose shows them)"))
    # Wrapped, not cut: a long command is worth reading whole once.
    lines = []
    for label, text in rows:
        pieces = textwrap.wrap(text, width - 11, break_on_hyphens=False) or [""]
        labels = [label, *[""] * (len(pieces) - 1)]
        pairs = zip(labels, pieces, strict=True)
        lines += [fit(f"  {name:<8} {piece}", width) for name, piece in pairs]
    return lines


@dataclass(slots=True)
class Heartbeat:
    """The one-line summary of a quiet terminal, at most every `every` seconds, from what the
    events told (figures) and the controller's state (given at each turn of the loop)."""

    every: float = HEARTBEAT_EVERY
    rss_mb: float | None = None
    cpu_percent: float | None = None
    cpu_of: str | None = None
    latency: float | None = None
    started: float | None = None  # wall time of the current child's start
    _last: float | None = None

    def feed(self, event: Mapping[str, Any], wall: float) -> None:
        match event.get("event"):
            case "resource_sample":
                self.rss_mb, self.cpu_percent = event.get("rss_mb"), event.get("cpu_percent")
                self.cpu_of = event.get("cpu_of")
            case "probe_ok":
                self.latency = event.get("latency")
            case "probe_failed" if event.get("counted", True):
                self.latency = None
            case "child_started":
                self.started, self.latency = wall, None
                self.rss_mb = self.cpu_percent = None
            case "child_exited" | "child_stopped":
                self.started = None

    def line(self, state: str, now: float, wall: float) -> str | None:
        """The heartbeat's text when one is due at `now` (monotonic), else None."""
        if self._last is None:
            self._last = now  # the start-up lines have just said how things stand
            return None
        if now - self._last < self.every:
            return None
        self._last = now
        parts = [f"heartbeat: {state}"]
        if self.started is not None:
            parts.append(f"up {format_span(wall - self.started)}")
        if isinstance(self.rss_mb, int | float):
            parts.append(f"rss {self.rss_mb:g} MB")
        if isinstance(self.cpu_percent, int | float):
            of = f" of {self.cpu_of}" if self.cpu_of else ""
            parts.append(f"cpu {self.cpu_percent:g}%{of}")
        if isinstance(self.latency, int | float):
            parts.append(f"probe {self.latency * 1000:.0f} ms")
        return ", ".join(parts)


class Terminal:
    """What the console shows, chosen once for the run and kept across reopened logs, with
    the heartbeat's figures."""

    def __init__(self, choice: ConsoleChoice) -> None:
        self.choice = choice
        self.heartbeat = Heartbeat()

    @classmethod
    def of(cls, stream: TextIO, verbose: bool = False) -> Terminal:
        return cls(choose_console(stream.isatty(), os.environ, verbose))


class ConsoleFilter(logging.Filter):
    """At a terminal: every event feeds the heartbeat; per-tick ones show with --verbose."""

    def __init__(self, terminal: Terminal) -> None:
        super().__init__()
        self._terminal = terminal

    def filter(self, record: logging.LogRecord) -> bool:
        event = record.msg if isinstance(record.msg, dict) else {}
        if not self._terminal.choice.human:
            return True
        self._terminal.heartbeat.feed(event, record.created)
        return self._terminal.choice.shows(
            str(event.get("event")), str(event.get("level", record.levelname.lower()))
        )
