"""Counting restarts and crashes: the throttle, the backoff and the crash-loop rule."""

from __future__ import annotations

from collections import deque


def backoff_delay(crashes: int, initial: float, maximum: float) -> float:
    """No wait after a first crash, then initial, 2x, 4x ... capped at maximum.

    A healthy API that dies once is most often back at once (PM2 restarts in 0.16 s);
    the growing delay is for a child that keeps dying.
    """
    if crashes <= 1:
        return 0.0
    try:
        return min(maximum, initial * 2.0 ** (crashes - 2))
    except OverflowError:
        return maximum


class RestartThrottle:
    """At most one restart of a live child per `min_interval`."""

    def __init__(self, min_interval: float) -> None:
        self.min_interval = min_interval
        self.last: float | None = None

    def allowed_at(self) -> float:
        return float("-inf") if self.last is None else self.last + self.min_interval

    def record(self, now: float) -> None:
        self.last = now


class CrashLoopDetector:
    """`max_crashes` crashes within `window` seconds make a crash loop."""

    def __init__(self, max_crashes: int, window: float) -> None:
        self.max_crashes = max_crashes
        self.window = window
        self._crashes: deque[float] = deque()

    def record(self, now: float) -> bool:
        self._crashes.append(now)
        while self._crashes and self._crashes[0] <= now - self.window:
            self._crashes.popleft()
        return len(self._crashes) >= self.max_crashes

    def __len__(self) -> int:
        return len(self._crashes)
