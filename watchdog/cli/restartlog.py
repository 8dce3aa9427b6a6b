"""`watchdog restarts`: the past restarts, from the main log, newest first.

A restart is a `restart_triggered` event (the watchdog killed a live child) or a
`child_exited` one (it died by itself; a first crash's snapshot comes later, in
`diagnostics_written`, since the app was started again first). Either is paired with the
next `child_healthy`, which tells how long the app was down; a second restart before that
is the same outage.
A stopped watchdog ends an outage unmeasured: its successor does not know when it began.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.cli.logview import category_files, read_events
from watchdog.cli.timeshown import shown_stamp
from watchdog.core.units import format_duration

RESTART_EVENTS = ("restart_triggered", "child_exited")


@dataclass(frozen=True, slots=True)
class RestartRecord:
    time: str  # the event's timestamp as logged (ISO 8601, UTC)
    kind: str  # "restart" (killed by the watchdog) or "crash" (exited by itself)
    reason: str
    pid: int | None
    downtime: float | None  # None: not healthy again in the log, or counted on an earlier one
    same_outage: bool  # an earlier restart's outage was still going on
    snapshot: str | None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _record(event: dict[str, Any], same_outage: bool) -> dict[str, Any]:
    crashed = event["event"] == "child_exited"
    reason = f"crashed: {event.get('exit', 'unknown exit')}" if crashed else event.get("reason")
    return {
        "time": str(event.get("timestamp", "")),
        "kind": "crash" if crashed else "restart",
        "reason": str(reason or "unknown"),
        "pid": event.get("pid"),
        "downtime": None,
        "same_outage": same_outage,
        "snapshot": event.get("diagnostics"),
    }


def restarts_from_events(events: Iterable[dict[str, Any] | str]) -> list[RestartRecord]:
    """Restarts in `events` (oldest first, as read_events gives them), newest first."""
    found: list[dict[str, Any]] = []
    outage: dict[str, Any] | None = None  # the first restart of the outage going on
    for event in events:
        if not isinstance(event, dict):
            continue
        name = event.get("event")
        if name in RESTART_EVENTS:
            found.append(_record(event, same_outage=outage is not None))
            outage = outage or found[-1]
        elif name == "diagnostics_written":
            crashed = [r for r in found if r["kind"] == "crash" and r["pid"] == event.get("pid")]
            if crashed and not crashed[-1]["snapshot"]:
                crashed[-1]["snapshot"] = event.get("diagnostics")
        elif name == "child_healthy" and outage is not None:
            downtime = event.get("downtime")
            if isinstance(downtime, int | float) and not isinstance(downtime, bool):
                outage["downtime"] = float(downtime)
            outage = None
        elif name == "watchdog_started":
            outage = None  # a new watchdog measures no outage from before it started
    return [RestartRecord(**record) for record in reversed(found)]


def find_restarts(log_dir: Path, app_name: str) -> list[RestartRecord]:
    """Every restart still in the main log files (rotated copies too), newest first."""
    return restarts_from_events(read_events(category_files(log_dir, app_name, "main")))


def snapshot_path(record: RestartRecord, log_dir: Path) -> Path | None:
    """The record's snapshot file; a relative path is taken as relative to the log dir."""
    if not record.snapshot:
        return None
    path = Path(record.snapshot)
    return path if path.is_absolute() else log_dir / path


def _when(timestamp: str) -> str:
    return shown_stamp(timestamp) or timestamp or "unknown time"


def _down(record: RestartRecord) -> str:
    if record.same_outage:
        return "(same)"
    return "-" if record.downtime is None else format_duration(round(record.downtime, 1))


def render_list(records: list[RestartRecord]) -> list[str]:
    """A table: number (for --show), time, downtime, reason, snapshot file name."""
    lines = [f"{'#':>3}  {'time':<23}  {'down':>8}  reason / snapshot"]
    for number, record in enumerate(records, start=1):
        lines.append(f"{number:>3}  {_when(record.time):<23}  {_down(record):>8}  {record.reason}")
        if record.snapshot:
            lines.append(f"{'':>3}  {'':<23}  {'':>8}  {Path(record.snapshot).name}")
    return lines
