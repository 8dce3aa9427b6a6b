"""Which events alert, and what an alert says: pure, fed with events and the time."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from watchdog.config.operations import AlertsConfig
from watchdog.outputs.events import Event

WINDOW = 60.0
TEXT_MAX = 500
KIND_OF_NAME = {
    "restart_triggered": "restart",
    "restart_failed": "restart",  # an overlap whose new child never served: the old one does
    "child_exited": "crash",
    "crash_loop": "crash_loop",
    "RESTART_RECOMMENDED": "restart_recommended",
    "remedy_failed": "remedy_failed",
}


def alert_kind(event: Event, kinds: Collection[str]) -> str | None:
    """The configured alert kind that `event` is, or None when it is no alert."""
    kind = KIND_OF_NAME.get(event.name)
    planned = str(event.fields.get("reason", "")).startswith("planned:")
    if event.name in ("restart_triggered", "RESTART_RECOMMENDED") and planned:
        kind = "planned"  # a restart on a schedule is no news unless asked for
    elif event.name == "level_changed" and event.fields.get("status") == "critical":
        # A context figure (a busy host) is no alert unless resources.host.alert asks.
        kind = None if event.fields.get("context") else "critical"
    elif event.name == "child_healthy" and event.fields.get("downtime") is not None:
        kind = "recovered"  # the first healthy answer after a planned start is no news
    return kind if kind in kinds else None


class RateLimit:
    """At most `limit` passes in any sliding window; the rest are only counted."""

    def __init__(self, limit: int, window: float = WINDOW) -> None:
        self._limit = limit
        self._window = window
        self._passed: deque[float] = deque()
        self.dropped = 0

    def allow(self, now: float) -> bool:
        while self._passed and now - self._passed[0] >= self._window:
            self._passed.popleft()
        if len(self._passed) >= self._limit:
            self.dropped += 1
            return False
        self._passed.append(now)
        return True

    def take_dropped(self) -> int:
        count, self.dropped = self.dropped, 0
        return count


def _fields(event: Event) -> dict[str, Any]:
    # `also` routes an event to more log files; it says nothing about what happened.
    return {key: value for key, value in event.fields.items() if key != "also"}


def _slack_line(text: str) -> str:
    # Slack reads &, < and > as markup; one line keeps chat and grep readable.
    line = " ".join(text.split())[:TEXT_MAX]
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class AlertRules:
    """Pure: the alert body an event makes, if any, within the per-minute limit."""

    def __init__(
        self, config: AlertsConfig, app_name: str, host: str, clock: Callable[[], float]
    ) -> None:
        self._kinds = frozenset(config.events)
        self._app = app_name
        self._host = host
        self._clock = clock
        self.limit = RateLimit(config.max_per_minute)
        self._metrics: dict[str, Any] = {}
        self._probe: dict[str, Any] = {}

    def consider(self, event: Event) -> dict[str, Any] | None:
        if event.name == "resource_sample":
            self._metrics = _fields(event)
        elif event.name in ("probe_ok", "probe_failed"):
            status, latency = event.fields.get("status"), event.fields.get("latency")
            self._probe = {"ok": event.name == "probe_ok", "status": status, "latency": latency}
        kind = alert_kind(event, self._kinds)
        if kind is None or not self.limit.allow(self._clock()):
            return None
        return self.body(kind, event)

    def body(self, kind: str, event: Event) -> dict[str, Any]:
        """What a receiver gets: the event, its context, and one line for a chat channel."""
        fields = _fields(event)
        reasons = (fields.get(key) for key in ("reason", "message", "exit"))
        reason = next((text for text in reasons if text is not None), None)
        summary = event.name if reason is None else reason
        if reason is None and kind == "recovered":
            summary = f"healthy again after {fields['downtime']}s down"
        stamp = datetime.fromtimestamp(event.wall, UTC).isoformat(timespec="milliseconds")
        return {
            "event": kind,
            "name": event.name,
            "app": self._app,
            "host": self._host,
            "level": event.level,
            "reason": reason,
            "time": stamp.replace("+00:00", "Z"),
            "fields": fields,
            "metrics": dict(self._metrics),
            "last_probe": dict(self._probe),
            "text": _slack_line(f"[{self._app}@{self._host}] {kind}: {summary}"),
        }
