"""Reading the category logs back for a person: `watchdog logs [-f] [--category] [--since]`."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from watchdog.cli.timeshown import shown_stamp
from watchdog.outputs.logs import CATEGORIES, log_file_name

FOLLOW_POLL = 0.25
SHOWN_FIRST = ("timestamp", "level", "event", "category", "app")


def category_files(directory: Path, app_name: str, category: str) -> list[Path]:
    """The files of one category, oldest rotated copy first, the live file last."""
    names = [c for c in CATEGORIES if c != "error"] if category == "all" else [category]
    files = []
    for name in names:
        live = directory / log_file_name(app_name, name)
        rotated = sorted(
            directory.glob(f"{live.name}.*"),
            key=lambda path: -int(path.suffix[1:]) if path.suffix[1:].isdigit() else 0,
        )
        files.extend(path for path in rotated if path.suffix[1:].isdigit())
        files.append(live)
    return files


def _timestamp(event: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(event.get("timestamp"))).timestamp()
    except ValueError:
        return 0.0


def read_events(files: list[Path], since: float | None = None) -> list[dict[str, Any] | str]:
    """Events from `files` in time order (a line that is not JSON is kept as text)."""
    seen: set[str] = set()
    entries: list[tuple[float, int, dict[str, Any] | str]] = []
    for path in files:
        try:
            # Only regular files: a log path pointing at a device would never end.
            text = path.read_text("utf-8", "replace") if path.is_file() else ""
            # Only "\n" ends a line: JSON keeps U+2028, U+2029 and U+0085 raw.
            lines = text.split("\n")
            if lines[-1] == "":
                lines.pop()
        except OSError:
            continue
        for line in lines:
            # An event copied to two categories is shown once.
            if line in seen and '"child_output"' not in line:
                continue
            seen.add(line)
            entry = parse_line(line)
            at = _timestamp(entry) if isinstance(entry, dict) else 0.0
            if since is None or at >= since:
                entries.append((at, len(entries), entry))
    entries.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in entries]


def parse_line(line: str) -> dict[str, Any] | str:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return line
    return value if isinstance(value, dict) else line


def render(entry: dict[str, Any] | str) -> str:
    """One event as a short line: time, level, event, then key=value fields."""
    if isinstance(entry, str):
        return entry
    when = _when(entry.get("timestamp", ""))
    level = str(entry.get("level", "")).upper()
    name = entry.get("event") or "(no event name)"
    if name == "child_output":
        return f"{when} {level:<8} [{entry.get('stream')}] {entry.get('line', '')}"
    fields = " ".join(
        f"{key}={_value(value)}" for key, value in entry.items() if key not in SHOWN_FIRST
    )
    return f"{when} {level:<8} {name} {fields}".rstrip()


def _when(value: object) -> str:
    return shown_stamp(value, millis=True) or str(value)


def _value(value: object) -> str:
    """A field as key=value shows it: JSON for anything but a plain word, written once."""
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a list or mapping is its own quoting
    plain = value and not any(c.isspace() or c in '"\\=' for c in value)
    return value if plain else json.dumps(value, ensure_ascii=False)


def follow(
    files: list[Path],
    emit: Callable[[str], None],
    keep_going: Callable[[], bool] = lambda: True,
    poll: float = FOLLOW_POLL,
) -> None:
    """Print lines appended to the live files, across rotations, until keep_going() is False."""
    followers = [_Follower(path) for path in files]
    while keep_going():
        for follower in followers:
            for line in follower.new_lines():
                emit(line)
        time.sleep(poll)


class _Follower:
    """Like `tail -F`: follows the path, and drains the old file before reading a new one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._partial = b""
        self._open(at_end=True)

    def _open(self, at_end: bool) -> bool:
        if not self.path.is_file():  # opening a FIFO would block; a device would never end
            return False
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - kept open across polls
        except OSError:
            return False
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):  # replaced between the check and the open
            handle.close()
            return False
        if at_end:
            handle.seek(0, os.SEEK_END)
        self._file, self._identity = handle, (info.st_dev, info.st_ino)
        return True

    def _read(self) -> bytes:
        try:
            return self._file.read() if self._file is not None else b""
        except OSError:
            return b""

    def new_lines(self) -> Iterator[str]:
        data = self._read()  # what the open file got, even if it was moved meanwhile
        try:
            info = os.stat(self.path)
        except OSError:
            info = None
        if self._file is not None and info is not None:
            if (info.st_dev, info.st_ino) != self._identity:
                self._file.close()
                self._file = None
            elif info.st_size < self._file.tell():  # truncated in place
                self._file.seek(0)
                data, self._partial = self._read(), b""
        if self._file is None and info is not None and self._open(at_end=False):
            if self._partial:
                data += b"\n"  # a half line left in the old file ends there
            data += self._read()
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace")
