"""Grading a metric as normal, warning or critical, and how long it has stayed critical.

Pure: fed with values and `now`; it returns what changed and never reads a clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum


class Level(IntEnum):
    NORMAL = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


def grade(value: float, warning: float, critical: float) -> Level:
    """At or above `critical` is critical, at or above `warning` is warning."""
    if value >= critical:
        return Level.CRITICAL
    if value >= warning:
        return Level.WARNING
    return Level.NORMAL


@dataclass(frozen=True, slots=True)
class LevelChanged:
    """A metric entered a new level; `message` is the line an operator greps for."""

    metric: str
    old: Level
    new: Level
    value: float
    message: str
    context: bool = False  # the host's figure: no say in the verdict, never an alert


@dataclass(frozen=True, slots=True)
class SustainedCritical:
    """A metric has been critical for its whole sustain time: a reason to restart."""

    metric: str
    value: float
    reason: str


Describe = Callable[[Level, float], str]


class MetricLevel:
    """One metric's level, logged once per transition, and its critical sustain timer."""

    def __init__(
        self,
        metric: str,
        warning: float,
        critical: float,
        sustain: float | None,
        describe: Describe,
        *,
        context: bool = False,
    ) -> None:
        self.metric = metric
        self.warning, self.critical, self.sustain = warning, critical, sustain
        self._describe = describe
        self.context = context
        self.level = Level.NORMAL
        self.value: float | None = None  # None: not measured (yet, or since a new child)
        self.critical_since: float | None = None
        self._tripped = False
        self._dropped = Level.NORMAL  # the level last logged before a fresh start

    def observe(
        self, value: float, now: float, counting: bool = True
    ) -> list[LevelChanged | SustainedCritical]:
        """Grade `value`; only `counting` observations (a healthy child's) run the timer."""
        decisions: list[LevelChanged | SustainedCritical] = []
        level = grade(value, self.warning, self.critical)
        old = self.level
        if self.value is None and level is Level.NORMAL:
            # After a fresh start the log still says what the old child's figure was: a
            # first normal value closes that, as "back to normal", so none is left open.
            old = self._dropped
        self.value, self._dropped = value, Level.NORMAL
        if level != old:
            message = self._describe(level, value)
            decisions.append(LevelChanged(self.metric, old, level, value, message, self.context))
        self.level = level
        if level is not Level.CRITICAL or not counting:
            self.critical_since, self._tripped = None, False
            return decisions
        if self.critical_since is None:
            self.critical_since = now
        lasted = now - self.critical_since
        if self.sustain is not None and lasted >= self.sustain and not self._tripped:
            self._tripped = True
            shown = f"{lasted:.0f}s" if lasted >= 10 else f"{lasted:.1f}s"
            reason = f"{self.metric} critical for {shown}: {self._describe(level, value)}"
            decisions.append(SustainedCritical(self.metric, value, reason))
        return decisions

    def retune(
        self, warning: float, critical: float, sustain: float | None, context: bool = False
    ) -> None:
        """New thresholds (a reload): the next value is graded by them, the timer runs on."""
        self.warning, self.critical, self.sustain = warning, critical, sustain
        self.context = context

    def start_afresh(self) -> None:
        """A new child: nothing measured yet, normal until its own first value says otherwise."""
        if self.value is not None:  # twice without a value between: the first one counts
            self._dropped = self.level
        self.level, self.value = Level.NORMAL, None
        self.critical_since, self._tripped = None, False


class ErrorRate:
    """The share of failed probes among the last `window`, once `min_probes` are in."""

    def __init__(self, window: int, min_probes: int) -> None:
        self._results: deque[bool] = deque(maxlen=window)
        self._min = min(min_probes, window)

    def add(self, ok: bool) -> float | None:
        self._results.append(ok)
        if len(self._results) < self._min:
            return None
        return 100.0 * self._results.count(False) / len(self._results)

    def resize(self, window: int, min_probes: int) -> None:
        """A new window keeps the most recent results that fit in it."""
        self._results = deque(self._results, maxlen=window)
        self._min = min(min_probes, window)

    def __len__(self) -> int:
        return len(self._results)

    def clear(self) -> None:
        self._results.clear()
