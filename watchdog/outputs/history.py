"""The recent samples: kept for `watchdog status`, the state file and diagnostic snapshots.

An output like the others: fed every event, it keeps the resource_sample ones and writes
`<name>_history.json` at most every HISTORY_EVERY seconds (a failing write is reported
once, and once more when it works again).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchdog.outputs.events import Event
from watchdog.outputs.files import history_path, write_json_atomic

HISTORY_EVERY = 10.0  # seconds between rewrites of the history file (100 samples)


class History:
    def __init__(
        self, state_dir: Path, app_name: str, size: int, report: Callable[..., None]
    ) -> None:
        self.path = history_path(state_dir, app_name)
        self.samples: deque[dict[str, Any]] = deque(maxlen=size)
        self._report = report
        self._written_at = float("-inf")
        self._failing = False

    def resize(self, size: int) -> None:
        if size != self.samples.maxlen:
            self.samples = deque(self.samples, maxlen=size)

    def on_event(self, event: Event) -> None:
        if event.name != "resource_sample":
            return
        fields = {key: value for key, value in event.fields.items() if key != "also"}
        stamp = datetime.fromtimestamp(event.wall, UTC).isoformat(timespec="seconds")
        self.samples.append({"timestamp": stamp, **fields})
        if event.at - self._written_at >= HISTORY_EVERY:
            self._written_at = event.at
            self._write()

    def _write(self) -> None:
        try:
            write_json_atomic(self.path, {"samples": list(self.samples)})
        except OSError as exc:
            if not self._failing:  # once, not every sample
                self._report("history_write_failed", level="warning", error=str(exc))
            self._failing = True
        else:
            if self._failing:
                self._report("history_write_restored")
            self._failing = False

    def recent(self, count: int) -> list[dict[str, Any]]:
        return list(self.samples)[-count:]
