"""The recent samples: kept for `watchdog status`, the state file and diagnostic snapshots.

An output like the others: fed every event, it keeps the resource_sample ones and writes
`<name>_history.json` at most every HISTORY_EVERY seconds and SAMPLES_PER_WRITE samples (a
failing write is reported once, and once more when it works again). Each sample also
carries `probe_latency_ms`, the latency of the current child's last probe by then (None
before its first), so that status can draw it beside memory and CPU.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchdog.outputs.events import Event
from watchdog.outputs.files import history_path, write_json_atomic

HISTORY_EVERY = 10.0  # seconds between rewrites of the history file (100 samples), at least
# Samples between rewrites, at least: status joins the file to the state file's last ten
# samples, so five missing here leave no gap there. At the guide's pace (a sample every
# 10 s) HISTORY_EVERY alone rewrote the whole file with every sample.
SAMPLES_PER_WRITE = 5


class History:
    def __init__(
        self, state_dir: Path, app_name: str, size: int, report: Callable[..., None]
    ) -> None:
        self.path = history_path(state_dir, app_name)
        self.samples: deque[dict[str, Any]] = deque(maxlen=size)
        self._report = report
        self._written_at = float("-inf")
        self._unwritten = 0  # samples since the last write
        self._failing = False
        self._latency_ms: float | None = None

    def resize(self, size: int) -> None:
        if size != self.samples.maxlen:
            self.samples = deque(self.samples, maxlen=size)

    def on_event(self, event: Event) -> None:
        if event.name in ("probe_ok", "probe_failed") and event.fields.get("counted", True):
            latency = event.fields.get("latency")
            ok = event.name == "probe_ok" and isinstance(latency, int | float)
            self._latency_ms = round(latency * 1000, 1) if ok else None  # no answer: a gap
        elif event.name == "child_started":
            self._latency_ms = None  # the old child's figure says nothing of the new one
        if event.name != "resource_sample":
            return
        fields = {key: value for key, value in event.fields.items() if key != "also"}
        stamp = datetime.fromtimestamp(event.wall, UTC).isoformat(timespec="seconds")
        self.samples.append({"timestamp": stamp, **fields, "probe_latency_ms": self._latency_ms})
        self._unwritten += 1
        first = self._written_at == float("-inf")
        if first or (
            self._unwritten >= SAMPLES_PER_WRITE and event.at - self._written_at >= HISTORY_EVERY
        ):
            self._written_at, self._unwritten = event.at, 0
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
