"""Recycling one worker of a pre-fork server (gunicorn, uvicorn --workers): which worker
over its cap to signal, one at a time and at most so many an hour, and when to stop.

A master replaces a worker that exits; the rule checks that it does, sample by sample, and
stops trying (says so once, and leaves the whole app to the usual rules) when it does not.
Pure: the workers as sampled and `now` in, decisions out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from watchdog.core.observations import WorkerSample
from watchdog.core.units import format_size

HOUR = 3600.0
# The master's time to be done with a signalled worker and to have a new one: gunicorn's own
# defaults give the old worker 30 s to finish its requests (graceful_timeout) and the new
# one 30 s to boot (timeout).
REPLACE_WITHIN = 60.0
# ... and never judged on fewer samples than this: one taken mid-replacement proves nothing.
REPLACE_SAMPLES = 3


@dataclass(frozen=True, slots=True)
class Recycle:
    """Signal this worker: it is at or over its cap."""

    worker: WorkerSample


@dataclass(frozen=True, slots=True)
class Replaced:
    """The worker signalled is gone, and the master has as many workers as before."""

    pid: int
    new: tuple[int, ...]  # the workers that were not there when it was signalled
    took: float


@dataclass(frozen=True, slots=True)
class Paused:
    """No more recycling for this child: `reason` says why."""

    reason: str


WorkerDecision = Recycle | Replaced | Paused


@dataclass
class Awaited:
    """A worker chosen for recycling, and the workers there were when it was."""

    worker: WorkerSample
    before: frozenset[int]
    at: float
    signalled: bool = False
    samples: int = 0  # samples seen since


class WorkerRecycler:
    """One child's worker recycling: the worker awaited, the recycles of the last hour."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.awaited: Awaited | None = None
        self.recent: deque[float] = deque()  # when each recycle of the last hour was signalled
        self.total = 0
        self.paused: str | None = None

    def on_sample(
        self, workers: tuple[WorkerSample, ...], now: float, cap: int, per_hour: int
    ) -> list[WorkerDecision]:
        """What this sample of the workers calls for: one worker at a time."""
        if self.paused is not None:
            return []
        decisions: list[WorkerDecision] = []
        if self.awaited is not None:
            outcome = self._replacement(workers, now)
            if outcome is None:
                return []  # the master is still at it
            decisions.append(outcome)
            if isinstance(outcome, Paused):
                return decisions
        over = [worker for worker in workers if worker.rss >= cap]
        if not over:
            return decisions
        worker = max(over, key=lambda worker: worker.rss)
        while self.recent and self.recent[0] <= now - HOUR:
            self.recent.popleft()
        if len(self.recent) >= per_hour:
            why = (
                f"worker {worker.pid} is at {worker.rss / 2**20:.1f}MB, over its cap of"
                f" {format_size(cap)}, but {len(self.recent)} workers were recycled within the"
                f" last hour (resources.memory.worker_recycles_per_hour: {per_hour})"
            )
            return [*decisions, self.pause(why)]
        self.awaited = Awaited(worker, frozenset(w.pid for w in workers), now)
        return [*decisions, Recycle(worker)]

    def _replacement(
        self, workers: tuple[WorkerSample, ...], now: float
    ) -> Replaced | Paused | None:
        awaited = self.awaited
        assert awaited is not None
        awaited.samples += 1
        old = awaited.worker
        still = any(w.pid == old.pid and w.created == old.created for w in workers)
        if not still and len(workers) >= len(awaited.before):
            self.awaited = None
            new = tuple(sorted(w.pid for w in workers if w.pid not in awaited.before))
            return Replaced(old.pid, new, now - awaited.at)
        if now - awaited.at < REPLACE_WITHIN or awaited.samples < REPLACE_SAMPLES:
            return None
        waited = f"{now - awaited.at:.0f}s"
        if still:
            return self.pause(f"worker {old.pid} still runs {waited} after its signal")
        return self.pause(
            f"the master did not replace worker {old.pid} within {waited}: it has"
            f" {len(workers)} of its {len(awaited.before)} workers"
        )

    def signalled(self, pid: int, now: float) -> bool:
        """The signal went to the worker awaited; whether `pid` was that worker."""
        awaited = self.awaited
        if awaited is None or awaited.worker.pid != pid or awaited.signalled:
            return False
        awaited.signalled = True
        self.recent.append(now)
        self.total += 1
        return True

    def not_signalled(self, pid: int) -> bool:
        """The worker awaited went before its signal: the next sample decides afresh."""
        if self.awaited is None or self.awaited.worker.pid != pid:
            return False
        self.awaited = None
        return True

    def pause(self, reason: str) -> Paused:
        self.paused, self.awaited = reason, None
        return Paused(reason)
