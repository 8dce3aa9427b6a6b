"""Structured events: structlog on top of the standard library's handlers.

Every event carries a `category`; the files write one JSON object per line, the console
is readable for a person at a terminal and short under systemd (journald adds its own time).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import structlog

from watchdog.config import Config

LOG_FILE_MODE = 0o640
LOG_DIR_MODE = 0o750


class LogDirError(Exception):
    """The log directory cannot be created or written: reported before anything starts."""


class _ReportOnceMixin(logging.StreamHandler):  # type: ignore[type-arg]
    """Report a failing write on stderr once, and once more when writing works again."""

    failing = False
    _failed_now = False

    def emit(self, record: logging.LogRecord) -> None:
        self._failed_now = False
        super().emit(record)
        if self.failing and not self._failed_now:
            self.failing = False
            _stderr(f"watchdog: writing {self._target()} again")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self._failed_now = True
        if not self.failing:
            self.failing = True
            error = sys.exc_info()[1]
            _stderr(f"watchdog: cannot write {self._target()}: {error}; supervision goes on")
        self._after_error()

    def _target(self) -> str:
        return str(getattr(self, "baseFilename", "the console log"))

    def _after_error(self) -> None:
        pass


def _stderr(message: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(message, file=sys.__stderr__, flush=True)


class SafeRotatingFileHandler(_ReportOnceMixin, logging.handlers.RotatingFileHandler):
    """Rotating file handler that creates its files 0640 and survives write failures."""

    def _open(self) -> Any:
        return open(
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=lambda path, flags: os.open(path, flags, LOG_FILE_MODE),
        )

    def _after_error(self) -> None:
        # A failed write can leave a half-written buffer behind; reopen on the next event.
        stream, self.stream = self.stream, None  # type: ignore[assignment]
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


class SafeStreamHandler(_ReportOnceMixin):
    pass


def prepare_log_dir(directory: Path) -> None:
    """Create the log directory (0750) and prove it writable, or raise LogDirError."""
    try:
        directory.mkdir(mode=LOG_DIR_MODE, parents=True, exist_ok=True)
        probe = directory / f".watchdog-write-test-{os.getpid()}"
        with open(probe, "w", opener=lambda path, flags: os.open(path, flags, LOG_FILE_MODE)):
            pass
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise LogDirError(f"logging.dir: cannot write to {directory} ({reason})") from None


EventLog = Callable[..., None]


class Events:
    """The one stream of events; each is logged with its category and fields."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def __call__(
        self, event: str, /, *, level: str = "info", category: str = "main", **fields: Any
    ) -> None:
        try:
            getattr(self._logger, level)(event, category=category, **fields)
        except Exception as exc:  # noqa: BLE001 - an output failure never stops supervision
            _stderr(f"watchdog: could not log {event}: {exc}")


def _console_renderer(console: TextIO) -> Any:
    if console.isatty():
        return structlog.dev.ConsoleRenderer(colors=True)
    return structlog.processors.LogfmtRenderer(
        key_order=["level", "event"], drop_missing=True, bool_as_flag=False
    )


FIRST_KEYS = ("timestamp", "level", "event", "category", "app")


def _first_keys_first(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Put time, level and event at the start of each line, where a reader's eye goes."""
    ordered = {key: event_dict.pop(key) for key in FIRST_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _drop_for_console(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.pop("timestamp", None)
    event_dict.pop("app", None)
    return event_dict


def open_events(config: Config, console: TextIO | None = None) -> Events:
    """Configure the handlers for `config` and return the event stream; replaces old handlers."""
    console = console or sys.stderr
    prepare_log_dir(config.logging.dir)
    pre_chain: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    logfile = config.logging.dir / f"{config.app.name}.log"
    file_handler = SafeRotatingFileHandler(
        logfile, maxBytes=config.logging.max_bytes, backupCount=config.logging.backup_count
    )
    file_handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.dict_tracebacks,
                _first_keys_first,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=pre_chain,
        )
    )
    console_handler = SafeStreamHandler(console)
    console_handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _drop_for_console,
                _console_renderer(console),
            ],
            foreign_pre_chain=pre_chain,
        )
    )
    std_logger = logging.getLogger("watchdog")
    for old in list(std_logger.handlers):
        std_logger.removeHandler(old)
        old.close()
    std_logger.addHandler(file_handler)
    std_logger.addHandler(console_handler)
    std_logger.setLevel(config.logging.level.upper())
    std_logger.propagate = False
    logger = structlog.wrap_logger(
        std_logger,
        processors=[
            structlog.stdlib.filter_by_level,
            *pre_chain,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    return Events(logger.bind(app=config.app.name))
