"""Structured events: structlog on top of the standard library's handlers, one file a category.

Every event has one `category` (main, performance, health, memory) and may be copied to
others with `also=`; every event at error level or above also lands in the error file.
Files hold one JSON object per line; the console is readable at a terminal and short
under systemd, where journald adds its own time.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import structlog

from watchdog.config import Config
from watchdog.outputs.console import (
    ConsoleFilter,
    Terminal,
    fit,
    human_lines,
    logfmt_value,
    startup_lines,
)
from watchdog.outputs.events import Event
from watchdog.outputs.logfiles import (
    LogDirError,
    SafeRotatingFileHandler,
    SafeStreamHandler,
    clean_old_logs,
    prepare_log_dir,
    say,
)

__all__ = [
    "CATEGORIES",
    "Events",
    "LogDirError",
    "Terminal",
    "clean_logs",
    "log_file_names",
    "open_events",
]

CATEGORIES = ("main", "performance", "error", "health", "memory")
FIRST_KEYS = ("timestamp", "level", "event", "category", "app")


def log_file_name(app_name: str, category: str) -> str:
    return f"{app_name}.log" if category == "main" else f"{app_name}_{category}.log"


def log_file_names(app_name: str) -> list[str]:
    return [log_file_name(app_name, category) for category in CATEGORIES]


def clean_logs(config: Config) -> list[str]:
    """The guide's cleanup_old_logs: remove rotated files older than retention_days."""
    removed = clean_old_logs(
        config.logging.dir, log_file_names(config.app.name), config.logging.retention_days
    )
    return [path.name for path in removed]


class _CategoryFilter(logging.Filter):
    def __init__(self, category: str) -> None:
        super().__init__()
        self.category = category

    def filter(self, record: logging.LogRecord) -> bool:
        if self.category == "error":
            return record.levelno >= logging.ERROR
        event = record.msg if isinstance(record.msg, dict) else {}
        return event.get("category", "main") == self.category or self.category in event.get(
            "also", ()
        )


class _EventFormatter(logging.Formatter):
    """Renders structlog's event dict once per handler, without copying the record."""

    def __init__(self, render: Any) -> None:
        super().__init__()
        self._render = render

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, dict):
            event = {key: value for key, value in record.msg.items() if key != "also"}
        else:  # a plain stdlib record from some library
            event = {"event": record.getMessage(), "level": record.levelname.lower()}
        if record.exc_info and "exception" not in event:
            event["exception"] = self.formatException(record.exc_info)
        return self._render(event)


def utc_now() -> str:
    """ISO-8601 UTC with microseconds always shown, so that every stamp has one width."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _timestamp(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    event["timestamp"] = utc_now()
    return event


def _json_line(event: dict[str, Any]) -> str:
    ordered = {key: event.pop(key) for key in FIRST_KEYS if key in event}
    ordered.update(event)
    return json.dumps(ordered, ensure_ascii=False, default=repr)


def _logfmt_line(event: dict[str, Any]) -> str:
    ordered = {key: event.pop(key) for key in FIRST_KEYS if key in event}
    ordered.update(event)
    return " ".join(f"{key}={logfmt_value(value)}" for key, value in ordered.items())


def _console_renderer(terminal: Terminal, banner: list[str]) -> Any:
    if terminal.choice.human:
        colour = terminal.choice.colour

        def render(event: dict[str, Any]) -> str:
            lines = human_lines(event, colour)
            if event.get("event") == "watchdog_started":
                lines += banner
            return "\n".join(lines)

        return render

    def plain(event: dict[str, Any]) -> str:
        for key in ("timestamp", "app"):
            event.pop(key, None)
        return _logfmt_line(event)

    return plain


class Events:
    """The one stream of events; each is logged with its category and fields."""

    def __init__(
        self,
        logger: Any,
        app_name: str,
        main_file: SafeRotatingFileHandler,
        console: SafeStreamHandler,
        level: int,
        *,
        file_format: str = "json",
        terminal: Terminal | None = None,
    ) -> None:
        self._logger = logger
        self._terminal = terminal
        self._app_name = app_name
        self._logfmt = file_format == "logfmt"
        self._app = json.dumps(app_name)
        self._main_file = main_file
        self._console = console
        self._level = level

    def __call__(
        self, event: str, /, *, level: str = "info", category: str = "main", **fields: Any
    ) -> None:
        try:
            getattr(self._logger, level)(event, category=category, **fields)
        except Exception as exc:  # noqa: BLE001 - an output failure never stops supervision
            say(f"watchdog: could not log {event}: {exc}")

    def child_output(self, stream: str, lines: list[str], generation: int) -> None:
        """A chunk of the child's output, one JSON line per output line, in the main file.

        The one hot path: a child can print far faster than structlog processes events
        (about 15,000 a second here), so these lines are rendered directly, with the same
        keys as every other event, and written by the main file's handler in one go.
        """
        if self._level > logging.INFO or not lines:
            return
        timestamp = utc_now()
        prefix = (
            f'{{"timestamp": "{timestamp}", "level": "info", "event": "child_output", '
            f'"category": "main", "app": {self._app}, "stream": "{stream}", '
            f'"generation": {generation}, "line": '
        )
        if self._logfmt:
            rendered = [
                _logfmt_line(
                    {
                        "timestamp": timestamp,
                        "level": "info",
                        "event": "child_output",
                        "category": "main",
                        "app": self._app_name,
                        "stream": stream,
                        "generation": generation,
                        "line": line,
                    }
                )
                for line in lines
            ]
        else:
            rendered = [prefix + json.dumps(line, ensure_ascii=False) + "}" for line in lines]
        self._main_file.write_lines(rendered)
        shown = [f"{stream}| {line}" for line in lines]
        if self._terminal is not None and self._terminal.choice.human:
            shown = [fit(line) for line in shown]
        self._console.write_lines(shown)

    def turn(self, child_state: str) -> None:
        """A turn of the supervising loop: at a terminal, the heartbeat when one is due."""
        if self._terminal is None or not self._terminal.choice.human:
            return
        try:
            text = self._terminal.heartbeat.line(child_state, time.monotonic(), time.time())
            if text is not None:
                event = {"timestamp": utc_now(), "event": text}
                self._console.write_lines(human_lines(event, self._terminal.choice.colour))
        except Exception as exc:  # noqa: BLE001 - an output failure never stops supervision
            say(f"watchdog: could not show the heartbeat: {exc}")


class LogOutput:
    """The logs as a subscriber of the bus: every event, and the child's output lines."""

    def __init__(self, events: Events) -> None:
        self.events = events

    def on_event(self, event: Event) -> None:
        also = {"also": event.also} if event.also else {}
        self.events(event.name, level=event.level, category=event.category, **also, **event.fields)

    def on_output(self, generation: int, stream: str, lines: list[str]) -> None:
        self.events.child_output(stream, lines, generation)


def open_events(
    config: Config, console: TextIO | None = None, terminal: Terminal | None = None
) -> Events:
    """Open every log file for `config`, then swap them in for the old ones.

    `terminal` says what the console shows (by default: chosen from `console`, not verbose).
    Raises LogDirError, leaving the old handlers in place, when a file cannot be opened.
    """
    console = console or sys.stderr
    terminal = terminal or Terminal.of(console)
    settings = config.logging
    prepare_log_dir(settings.dir)
    render_file = _json_line if settings.format == "json" else _logfmt_line
    file_handlers: list[SafeRotatingFileHandler] = []
    for category in CATEGORIES:
        path = settings.dir / log_file_name(config.app.name, category)
        try:
            handler = SafeRotatingFileHandler(path, settings.max_bytes, settings.backup_count)
        except OSError as exc:
            for opened in file_handlers:
                opened.close()
            reason = exc.strerror or str(exc)
            raise LogDirError(f"logging.dir: cannot open {path} ({reason})") from None
        handler.addFilter(_CategoryFilter(category))
        handler.setFormatter(_EventFormatter(render_file))
        file_handlers.append(handler)
    console_handler = SafeStreamHandler(console)
    banner = startup_lines(config, terminal.choice.verbose) if terminal.choice.human else []
    console_handler.setFormatter(_EventFormatter(_console_renderer(terminal, banner)))
    console_handler.addFilter(ConsoleFilter(terminal))
    std_logger = logging.getLogger("watchdog")
    for old in list(std_logger.handlers):
        std_logger.removeHandler(old)
        old.close()
    for handler in [*file_handlers, console_handler]:
        std_logger.addHandler(handler)
    std_logger.setLevel(settings.level.upper())
    std_logger.propagate = False
    logger = structlog.wrap_logger(
        std_logger,
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.add_log_level,
            _timestamp,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    return Events(
        logger.bind(app=config.app.name),
        config.app.name,
        file_handlers[0],
        console_handler,
        std_logger.getEffectiveLevel(),
        file_format=settings.format,
        terminal=terminal,
    )
