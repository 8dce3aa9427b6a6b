"""Remedies: a gentle action asked of the app (a signal, a POST) when one of its metrics
reaches a level, and whether it worked. The restart rules go on beside them, untouched.

Pure: fed with each value the resource rules measured, whether the child runs, and `now`.
A remedy is sent on a fresh value at or above its `level`, at most once per `cooldown`,
to a running child only; it is judged on the first value measured `settle` after it was
delivered: it worked if that value is below the threshold of the level that called for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from watchdog.core.rules.levels import Level, MetricLevel

if TYPE_CHECKING:
    from watchdog.config.remedies import RemedyConfig
    from watchdog.core.facts import RemedyDone

REMEDIED = ("memory", "cpu", "response_time", "error_rate")  # the child's graded metrics


@dataclass(frozen=True, slots=True)
class Attempt:
    """A remedy sent to one child, awaiting its verdict."""

    ticket: int
    generation: int
    action: str  # as a person reads it: SIGUSR1, POST /admin/cleanup
    level: Level  # the level that called for it: the value must come back below it
    before: float
    started: float
    delivered: float | None = None  # then judged on the first value measured `settle` on
    due: float | None = None


@dataclass(frozen=True, slots=True)
class Send:
    """Carry the remedy out: a signal to the child's main process, or a POST to `post`."""

    metric: str
    attempt: Attempt
    signal: str | None
    post: str | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a remedy went: `after` against `threshold`, or the `error` that stopped it."""

    metric: str
    attempt: Attempt
    worked: bool
    after: float | None = None
    threshold: float | None = None
    error: str | None = None
    at: float | None = None  # when `after` was measured


@dataclass(frozen=True, slots=True)
class Unchecked:
    """The child a remedy was sent to stopped running before its verdict."""

    metric: str
    attempt: Attempt
    reason: str


RemedyDecision = Send | Verdict | Unchecked


def threshold_of(level: Level, warning: float, critical: float) -> float:
    return critical if level is Level.CRITICAL else warning


def shown(metric: str, value: float) -> str:
    """A value as the level messages write it: 83.2%, 2.31s."""
    return f"{value:.2f}s" if metric == "response_time" else f"{value:.1f}%"


def app_url(health_url: str, path: str) -> str:
    """`path` on the health URL's own scheme, host and port: where a POST remedy goes."""
    parts = urlsplit(health_url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    port = f":{parts.port}" if parts.port is not None else ""
    # Built from the parts, not the netloc: a user:password@ in the URL stays out of it.
    return f"{parts.scheme}://{host}{port}{path}"


class RemedyRule:
    """One metric's remedy: when to send it, when to judge it, whether it worked."""

    def __init__(self, metric: str, tickets: Callable[[], int]) -> None:
        self.metric = metric
        self._tickets = tickets
        self.attempt: Attempt | None = None
        # The child last sent a remedy, and when: a new child is a fresh process, which no
        # remedy has been asked of yet (as every detector starts afresh with it).
        self.last_sent: tuple[int, float] | None = None

    def measured(
        self, config: RemedyConfig, graded: MetricLevel, at: float, running: int | None
    ) -> list[RemedyDecision]:
        """The metric as graded on a value measured at `at`; `running`: the generation of
        the child if it runs (a remedy is for a child that serves, not one booting or going)."""
        decisions: list[RemedyDecision] = []
        attempt, value, level = self.attempt, graded.value, graded.level
        if value is None:
            return []
        if attempt is not None and attempt.due is not None and at >= attempt.due:
            threshold = threshold_of(attempt.level, graded.warning, graded.critical)
            self.attempt = None
            worked = value < threshold
            decisions.append(Verdict(self.metric, attempt, worked, value, threshold, at=at))
        if running is not None and self._called_for(config, level, at, running):
            on = Level[str(config.level).upper()]
            action = f"SIG{config.signal}" if config.signal else f"POST {config.post}"
            self.attempt = Attempt(self._tickets(), running, action, on, value, at)
            self.last_sent = (running, at)
            decisions.append(Send(self.metric, self.attempt, config.signal, config.post))
        return decisions

    def _called_for(self, config: RemedyConfig, level: Level, at: float, running: int) -> bool:
        if self.attempt is not None or config.level is None:
            return False
        if config.signal is None and config.post is None:
            return False  # `check` refuses it; a hand-made config must not send nothing
        if level < Level[config.level.upper()]:
            return False
        if self.last_sent is None or self.last_sent[0] != running:
            return True
        return at >= self.last_sent[1] + config.cooldown

    def delivered(self, config: RemedyConfig, fact: RemedyDone) -> list[RemedyDecision]:
        """The remedy's signal or POST is done: its settle time runs from now, or it failed."""
        attempt = self.attempt
        if attempt is None or attempt.ticket != fact.ticket:
            return []  # an attempt already given up (its child left), or not this rule's
        if attempt.generation != fact.generation:
            return []
        if attempt.delivered is not None:
            return []
        if not fact.ok:
            self.attempt = None
            return [Verdict(self.metric, attempt, False, error=fact.error, at=fact.at)]
        due = fact.at + config.settle
        self.attempt = dataclasses.replace(attempt, delivered=fact.at, due=due)
        return []

    def left(self, running: int | None, reason: str) -> list[RemedyDecision]:
        """The child under a remedy no longer runs (`running`: the one that does, if any)."""
        attempt = self.attempt
        if attempt is None or attempt.generation == running:
            return []
        self.attempt = None
        return [Unchecked(self.metric, attempt, reason)]
