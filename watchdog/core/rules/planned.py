"""Planned restarts: a child restarted before it ages into trouble, at a quiet hour.

`restart.max_uptime` (with a random spread, so that many instances do not restart at once)
says when a child is due; `restart.window` says when a due restart may happen. A due
restart outside the window waits for its next opening. Pure: the time of day comes in with
the facts (the runtime reads the local clock), the spread as a number the runtime drew.
"""

from __future__ import annotations

from dataclasses import dataclass

from watchdog.core.units import format_duration

DAY = 86400.0
UPTIME = "max_uptime"  # how a due restart by age begins its reason


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """A span of each day, host local time, in seconds since midnight; it may wrap midnight."""

    start: float
    end: float

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"

    def wait(self, time_of_day: float) -> float:
        """Seconds until the window is open at `time_of_day`: 0 while it is."""
        since_start = (time_of_day - self.start) % DAY
        length = (self.end - self.start) % DAY or DAY
        return 0.0 if since_start < length else DAY - since_start


def _hhmm(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def daily_window(value: object) -> DailyWindow:
    """"03:00-05:00" (24-hour, host local time) or ValueError."""
    if not isinstance(value, str):
        raise ValueError
    start, separator, end = value.strip().partition("-")
    if not separator:
        raise ValueError
    window = DailyWindow(_seconds_of(start), _seconds_of(end))
    if window.start == window.end:
        raise ValueError
    return window


def _seconds_of(text: str) -> float:
    hours, separator, minutes = text.strip().partition(":")
    if not separator or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        raise ValueError
    if not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
        raise ValueError
    return int(hours) * 3600.0 + int(minutes) * 60.0


@dataclass(frozen=True, slots=True)
class Due:
    """A planned restart: why, and when it may happen (monotonic)."""

    reason: str
    at: float
    urgent: bool = False  # the window does not hold it back


class Planner:
    """When the current child's planned restart is due, and whether the window allows it."""

    def __init__(
        self, max_uptime: float | None, jitter: float | None, window: DailyWindow | None
    ) -> None:
        self.max_uptime, self.jitter, self.window = max_uptime, jitter, window
        self.due: Due | None = None
        self.look_at: float | None = None  # a due restart waits for the window until then
        self._started: float | None = None
        self._lot = 0.0
        self._clock: tuple[float, float] | None = None  # (now, time of day) last seen together

    def reconfigure(
        self, max_uptime: float | None, jitter: float | None, window: DailyWindow | None
    ) -> None:
        replan = (max_uptime, jitter) != (self.max_uptime, self.jitter)
        self.max_uptime, self.jitter, self.window = max_uptime, jitter, window
        # Only a new limit plans anew: a degradation stays due whatever the limit, and a
        # restart already handed to the throttle is not due a second time.
        degraded = self.due is not None and not self.due.reason.startswith(UPTIME)
        if replan and self._started is not None and not degraded:
            self._plan_uptime()

    def child_started(self, at: float, lot: float) -> None:
        """A new child: its uptime counts from `at`; `lot` in [0, 1) places it in the spread."""
        self._started, self._lot = at, lot
        self._plan_uptime()

    def child_gone(self) -> None:
        self._started, self.due, self.look_at = None, None, None

    def _plan_uptime(self) -> None:
        self.due, self.look_at = None, None
        if self.max_uptime is None or self._started is None:
            return
        spread = (self.jitter or 0.0) * self._lot
        at = self._started + self.max_uptime + spread
        self.due = Due(f"{UPTIME} {_limit(self.max_uptime)}", at)

    def degraded(self, reason: str, now: float, urgent: bool) -> None:
        """A restart is due now for another reason (a degradation): it keeps the earliest."""
        if self.due is None or self.due.at > now or (urgent and not self.due.urgent):
            self.due = Due(reason, now, urgent)

    def check(self, now: float, time_of_day: float | None) -> str | None:
        """Why a restart is due now, or None (then `deadline` says when to look again).

        Outside the window a due restart waits for the window to open; with no time of day
        known (a fact without it), it is looked at again a second later."""
        due, self.look_at = self.due, None
        if due is None or now < due.at:
            return None
        if self.window is None or due.urgent:
            return self._reason(due, now)
        wait = 1.0 if time_of_day is None else self.window.wait(time_of_day)
        if wait > 0:
            self.look_at = now + wait
            return None
        return self._reason(due, now)

    def consume(self) -> None:
        """The due restart was handed on (to the throttle): it is not due a second time."""
        self.due, self.look_at = None, None

    def saw_the_clock(self, now: float, time_of_day: float) -> None:
        self._clock = (now, time_of_day)

    def expected_at(self) -> float | None:
        """When the due restart will happen, for a person: its time, or the window's next
        opening after it (from the last time of day seen; a DST change moves it an hour)."""
        due = self.due
        if due is None:
            return None
        at = max(due.at, self.look_at or due.at)
        if self.window is None or due.urgent or self._clock is None:
            return at
        seen, time_of_day = self._clock
        return at + self.window.wait((time_of_day + at - seen) % DAY)

    def deadline(self) -> float | None:
        """When `check` has something new to say."""
        if self.look_at is not None:
            return self.look_at
        return None if self.due is None else self.due.at

    def _reason(self, due: Due, now: float) -> str:
        if self._started is not None and due.reason.startswith(UPTIME):
            return f"planned: uptime {_span(now - self._started)} ≥ {due.reason}"
        return due.reason


def _limit(seconds: float) -> str:
    """max_uptime as written: 24h, 90m, 1500ms."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return format_duration(seconds)


def _span(seconds: float) -> str:
    """Like 24h03m, 2h, 45m, 30s, 1.5s: an uptime for a person."""
    if seconds < 10:
        return f"{max(0.0, seconds):.1f}".removesuffix(".0") + "s"
    left = max(0, round(seconds))
    days, left = divmod(left, 86400)
    hours, left = divmod(left, 3600)
    minutes, secs = divmod(left, 60)
    hours += days * 24
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"
