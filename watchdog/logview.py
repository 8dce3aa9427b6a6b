"""Reading the category logs back for a person: `watchdog logs [-f] [--category] [--since]`."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from watchdog.logs import CATEGORIES, log_file_name

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
            lines = path.read_text("utf-8", "replace").splitlines() if path.is_file() else []
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
    when = str(entry.get("timestamp", "")).replace("T", " ")[:23]
    level = str(entry.get("level", "")).upper()
    if entry.get("event") == "child_output":
        return f"{when} {level:<8} [{entry.get('stream')}] {entry.get('line', '')}"
    fields = " ".join(
        f"{key}={_value(value)}" for key, value in entry.items() if key not in SHOWN_FIRST
    )
    return f"{when} {level:<8} {entry.get('event')} {fields}".rstrip()


def _value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


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
    """Like `tail -F`: the path, not the open file; a new file after rotation is read whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""
        self._identity, self._offset = self._stat()

    def _stat(self) -> tuple[tuple[int, int] | None, int]:
        try:
            info = os.stat(self.path)
        except OSError:
            return None, 0
        return (info.st_dev, info.st_ino), info.st_size

    def new_lines(self) -> Iterator[str]:
        identity, size = self._stat()
        if identity is None or not self.path.is_file():
            return
        if identity != self._identity or size < self._offset:
            self._identity, self._offset, self._partial = identity, 0, b""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace")
