"""Log files on disk: a rotating handler that survives a full disk, and the retention sweep."""

from __future__ import annotations

import contextlib
import glob
import logging
import logging.handlers
import os
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LOG_FILE_MODE = 0o640
LOG_DIR_MODE = 0o750
_NO_RECORD = logging.makeLogRecord({})
IDENTITY_CHECK_INTERVAL = 1.0


class LogDirError(Exception):
    """The log directory cannot be created or written: reported before anything starts."""


def say(message: str) -> None:
    """A line on the real stderr, for when the logs themselves are what is failing."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(message, file=sys.__stderr__, flush=True)


def _open_private(path: str, flags: int) -> int:
    # O_NONBLOCK only for the open itself: a FIFO left where a log file belongs would
    # otherwise block the open (and the watchdog) until some reader appears.
    fd = os.open(path, flags | os.O_NONBLOCK, LOG_FILE_MODE)
    os.set_blocking(fd, True)
    return fd


class ReportOnceMixin(logging.StreamHandler):  # type: ignore[type-arg]
    """Report a failing write on stderr once, and once more when writing works again."""

    failing = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if not self.failing:
            self.failing = True
            error = sys.exc_info()[1]
            say(f"watchdog: cannot write {self.target}: {error}; supervision goes on")
        self.after_error()

    def written(self) -> None:
        if self.failing:
            self.failing = False
            say(f"watchdog: writing {self.target} again")

    @property
    def target(self) -> str:
        return str(getattr(self, "baseFilename", "the console log"))

    def after_error(self) -> None:
        pass


class SafeStreamHandler(ReportOnceMixin):
    def emit(self, record: logging.LogRecord) -> None:
        self.write_lines([self.format(record)], record)

    def write_lines(self, lines: list[str], record: logging.LogRecord | None = None) -> None:
        try:
            self.stream.write("".join(line + "\n" for line in lines))
            self.stream.flush()
        except Exception:  # noqa: BLE001 - the logging protocol: report, never raise
            self.handleError(record or _NO_RECORD)
        else:
            self.written()


class SafeRotatingFileHandler(ReportOnceMixin, logging.handlers.RotatingFileHandler):
    """Rotates at max_bytes, writes files 0640, formats each event once, survives failures.

    The standard handler formats every record twice and stats the file on every write;
    a child flooding its output pays for that, so this one counts the bytes it writes and
    reads the file's real size only when the count reaches max_bytes.
    """

    def __init__(self, path: Path, max_bytes: int, backup_count: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backup_count, delay=True)
        self._size: int | None = None
        self._checked_at = time.monotonic()
        self.stream = self._open()  # fail now, at start-up, rather than at the first event

    def _open(self) -> Any:
        try:
            stream = open(self.baseFilename, self.mode, encoding="utf-8", opener=_open_private)  # noqa: SIM115 - logging owns it
        except FileNotFoundError:
            # The directory was deleted under us (a clean-up gone too far): make it again,
            # or the logs (and the state file beside them) would stay gone for good.
            Path(self.baseFilename).parent.mkdir(mode=LOG_DIR_MODE, parents=True, exist_ok=True)
            stream = open(self.baseFilename, self.mode, encoding="utf-8", opener=_open_private)  # noqa: SIM115
        self._size = stream.seek(0, os.SEEK_END)
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - the logging protocol: report, never raise
            self.handleError(record)
        else:
            self.written()

    def write_lines(self, lines: list[str]) -> None:
        """Write already rendered lines at once: the path for a burst of child output."""
        try:
            self._write("".join(line + "\n" for line in lines))
        except Exception:  # noqa: BLE001 - same protocol as emit
            self.handleError(_NO_RECORD)
        else:
            self.written()

    def _write(self, data: str) -> None:
        size = len(data.encode("utf-8"))
        self._reopen_if_replaced()
        if self.stream is None:
            self.stream = self._open()
        if self._full(size):
            self.doRollover()
            if self.backupCount == 0:
                os.truncate(self.baseFilename, 0)  # no copy is kept: start the file afresh
            self.stream = self.stream or self._open()
        self.stream.write(data)
        self._size = (self._size or 0) + size
        self.stream.flush()

    def _full(self, size: int) -> bool:
        """Whether `size` more bytes would take the file past max_bytes (an empty one never is)."""
        if not self._size or self._size + size <= self.maxBytes or not self._regular_file():
            return False
        # The count can run ahead of the file: logrotate's copytruncate empties it in place.
        # So the file's real size decides, read only once the count says it is full.
        self._size = os.fstat(self.stream.fileno()).st_size
        return self._size > 0 and self._size + size > self.maxBytes

    def _reopen_if_replaced(self) -> None:
        """Follow the path, not the open file, if someone moved or replaced it (logrotate)."""
        now = time.monotonic()
        if self.stream is None or now - self._checked_at < IDENTITY_CHECK_INTERVAL:
            return
        self._checked_at = now
        try:
            on_disk = os.stat(self.baseFilename)
            open_file = os.fstat(self.stream.fileno())
            same = (on_disk.st_dev, on_disk.st_ino) == (open_file.st_dev, open_file.st_ino)
        except OSError:
            same = False
        if not same:
            self._drop_stream()  # the caller opens the path afresh

    def _regular_file(self) -> bool:
        # Rotating /dev/null or a FIFO would rename a device; the stdlib refuses too.
        return os.path.isfile(self.baseFilename)

    def after_error(self) -> None:
        # A failed write can leave a half-written buffer; drop it and reopen on the next event.
        self._drop_stream()

    def _drop_stream(self) -> None:
        stream, self.stream = self.stream, None  # type: ignore[assignment]
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def prepare_log_dir(directory: Path, key: str = "logging.dir") -> None:
    """Create the directory (0750) and prove it writable, or raise LogDirError naming `key`."""
    try:
        directory.mkdir(mode=LOG_DIR_MODE, parents=True, exist_ok=True)
        probe = directory / f".watchdog-write-test-{os.getpid()}"
        with open(probe, "w", opener=_open_private) as handle:
            handle.write("ok")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise LogDirError(f"{key}: cannot write to {directory} ({reason})") from None


def clean_old_logs(
    directory: Path, file_names: Iterable[str], retention_days: int, now: float | None = None
) -> list[Path]:
    """Delete rotated copies (name.1, name.2 ...) of the given logs older than retention_days."""
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    removed = []
    for name in file_names:
        rotated = re.compile(rf"{re.escape(name)}\.\d+")
        with contextlib.suppress(OSError):
            for path in sorted(directory.glob(f"{glob.escape(name)}.*")):
                if not rotated.fullmatch(path.name):
                    continue
                with contextlib.suppress(OSError):
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed.append(path)
    return removed
