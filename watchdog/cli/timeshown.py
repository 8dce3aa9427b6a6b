"""Times as every view shows them to a person: UTC, always marked as such.

UTC because the JSON logs, alerts and snapshot file names carry UTC: the same instant
then reads the same in `watchdog logs` as in the file it came from, and a time copied
from one can be grepped for in the other. The marker keeps it from being read as local.
"""

from __future__ import annotations

from datetime import UTC, datetime


def shown_time(moment: float | datetime, millis: bool = False) -> str:
    """`2026-11-27 00:27:15 UTC` (with `.123` before UTC when `millis`)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:  # the logs write UTC; a bare time can only be that
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    else:
        moment = datetime.fromtimestamp(moment, UTC)
    fraction = f".{moment.microsecond // 1000:03d}" if millis else ""
    return f"{moment:%Y-%m-%d %H:%M:%S}{fraction} UTC"


def shown_stamp(stamp: object, millis: bool = False) -> str | None:
    """An ISO-8601 timestamp as `shown_time` writes it; None when it is not one."""
    try:
        return shown_time(datetime.fromisoformat(str(stamp)), millis)
    except (ValueError, OverflowError, OSError):
        return None
