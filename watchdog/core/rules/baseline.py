"""Degradation against the app's own baseline: slower than it was, not slower than a number.

The guide's thresholds (2 s warning, 5 s critical) say when an app is sick; an app that
answered in 20 ms when fresh and now takes 120 ms is not sick, but ageing. After a warm-up
following each child's first healthy answer, the watchdog learns the child's own probe
latency (median and p90 of `probes` answers), then grades a rolling median of the last
`window` answers against it: degraded when it reaches `ratio` times the baseline and at
least `floor` (so that 2 ms -> 6 ms is no degradation), and a planned restart once that
has lasted `sustain`. The resident memory once warmed up is kept as a baseline too.
Pure: fed probe results, samples and `now`.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchdog.core.observations import ProbeResult, Sample

if TYPE_CHECKING:
    from watchdog.config.resources import DegradationConfig


@dataclass(frozen=True, slots=True)
class Learned:
    """The child's baseline latency, from its first answers after the warm-up."""

    median: float
    p90: float
    probes: int


@dataclass(frozen=True, slots=True)
class Degraded:
    """The rolling median reached ratio x baseline (and the floor): the app is ageing."""

    baseline: float
    current: float


@dataclass(frozen=True, slots=True)
class Recovered:
    baseline: float
    current: float


@dataclass(frozen=True, slots=True)
class DegradedTooLong:
    """Degraded for the whole sustain: a planned restart is due."""

    reason: str


Finding = Learned | Degraded | Recovered | DegradedTooLong


class Baseline:
    """One child's latency (and memory) baseline, and whether it has degraded from it."""

    def __init__(self, config: DegradationConfig) -> None:
        self.config = config
        self.learned: Learned | None = None
        self.rss: int | None = None  # resident memory once warmed up
        self._healthy_at: float | None = None
        self._learning: list[float] = []
        self._recent: deque[float] = deque(maxlen=config.window)
        self._degraded_since: float | None = None
        self._said = False  # DegradedTooLong once per degradation

    def reconfigure(self, config: DegradationConfig) -> None:
        self.config = config
        self._recent = deque(self._recent, maxlen=config.window)

    def child_healthy(self, now: float) -> None:
        """A new child answered healthy: its warm-up starts; nothing of the old one counts."""
        self.learned, self.rss, self._healthy_at = None, None, now
        self._learning.clear()
        self._recent.clear()
        self._degraded_since, self._said = None, False

    def child_gone(self) -> None:
        """The child is being stopped: nothing of it is shown as the next one's."""
        self.learned, self.rss, self._healthy_at = None, None, None

    @property
    def current(self) -> float | None:
        """The rolling median of the latest answers, once the baseline is learned."""
        if self.learned is None or not self._recent:
            return None
        return statistics.median(self._recent)

    @property
    def ratio(self) -> float | None:
        current, learned = self.current, self.learned
        if current is None or learned is None or learned.median <= 0:
            return None
        return current / learned.median

    def _warm(self, now: float) -> bool:
        return self._healthy_at is not None and now - self._healthy_at >= self.config.warmup

    def on_sample(self, sample: Sample) -> None:
        if self.rss is None and self._warm(sample.at) and sample.procs:
            self.rss = sample.tree_rss

    def on_probe(self, probe: ProbeResult) -> list[Finding]:
        # A refused probe or a bad status says nothing of speed; one that timed out took
        # at least its latency, which is what ageing looks like at its worst.
        if not (probe.ok or probe.timed_out) or not self._warm(probe.at):
            return []
        if self.learned is None:
            if not probe.ok:
                return []  # a baseline is learned from good answers only
            self._learning.append(probe.latency)
            if len(self._learning) < self.config.probes:
                return []
            ordered = sorted(self._learning)
            p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
            self.learned = Learned(statistics.median(ordered), p90, len(ordered))
            self._learning.clear()
            return [self.learned]
        self._recent.append(probe.latency)
        return self._grade(probe.at)

    def _grade(self, now: float) -> list[Finding]:
        learned, current, ratio = self.learned, self.current, self.config.ratio
        if learned is None or current is None or ratio is None:
            return []
        if len(self._recent) < (self._recent.maxlen or 1):
            return []  # a rolling median of a full window only
        degraded = current >= max(ratio * learned.median, self.config.floor)
        if not degraded:
            if self._degraded_since is None:
                return []
            self._degraded_since, self._said = None, False
            return [Recovered(learned.median, current)]
        findings: list[Finding] = []
        if self._degraded_since is None:
            self._degraded_since = now
            findings.append(Degraded(learned.median, current))
        lasted = now - self._degraded_since
        if lasted >= self.config.sustain and not self._said:
            self._said = True
            findings.append(
                DegradedTooLong(
                    f"planned: degraded, probe latency {_ms(current)} is"
                    f" {current / learned.median:.1f}x its baseline {_ms(learned.median)}"
                    f" for {_lasted(lasted)}"
                )
            )
        return findings


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms"


def _lasted(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
