"""The controller's part in recycling one worker: the rule (workers.py) fed with each
sample of the running child, its decisions turned into commands and events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchdog.core.bookkeeping import ControllerBase
from watchdog.core.commands import SignalWorker
from watchdog.core.facts import WorkerSignalled
from watchdog.core.lifecycle import ChildState
from watchdog.core.observations import Sample
from watchdog.core.report import MEMORY
from watchdog.core.rules.workers import Paused, Recycle, Replaced, WorkerRecycler

if TYPE_CHECKING:
    from watchdog.config import Config

UNTIL = "the app next starts"


def _mb(size: int) -> float:
    return round(size / 2**20, 1)


class WorkerSteps(ControllerBase):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.recycler: WorkerRecycler | None = None  # the current child's, once sampled

    def _recycle_workers(self, sample: Sample) -> None:
        """A worker over its cap is signalled while the app runs healthy: never while it
        starts, restarts, hands over or backs off, nor once the watchdog is stopping."""
        memory, child = self.config.resources.memory, self.child
        if memory.max_worker_rss is None:
            self.recycler = None  # off: a reload that sets a cap again starts afresh
            return
        if child is None or sample.workers_of != child.generation:
            return  # the workers of a child already let go of
        if self.state is not ChildState.RUNNING or self.exiting or self.held is not None:
            return  # stopped by the operator: running still while taken off the socket
        recycler = self.recycler
        if recycler is None or recycler.generation != child.generation:
            recycler = self.recycler = WorkerRecycler(child.generation)  # a new child: afresh
        cap, limit = memory.max_worker_rss, memory.worker_recycles_per_hour
        for decision in recycler.on_sample(sample.workers, self._now, cap, limit):
            match decision:
                case Recycle(worker):
                    signal, held = memory.worker_signal, self.config.app.listen is not None
                    self._do(
                        SignalWorker(
                            child.generation, worker.pid, worker.created, signal, quiesce=held
                        )
                    )
                case Replaced(pid, new, took):
                    self._emit(
                        "worker_replaced", also=MEMORY, pid=pid, new=list(new), took=round(took, 1)
                    )
                case Paused(reason):
                    self._recycling_paused(reason)

    def _workers_renewed(self) -> None:
        """Every worker new (a reload in place): recycling starts afresh, a pause ends."""
        self.recycler = None

    def on_worker_signalled(self, fact: WorkerSignalled) -> None:
        recycler = self.recycler
        if recycler is None or recycler.generation != fact.generation:
            return
        if not self._current(fact.generation):
            return  # a child already let go of
        awaited = recycler.awaited
        if awaited is None or awaited.worker.pid != fact.pid:
            return
        if fact.error is None:
            if recycler.signalled(fact.pid, self._now):
                memory = self.config.resources.memory
                self._emit(
                    "worker_recycled",
                    also=MEMORY,
                    pid=fact.pid,
                    rss_mb=_mb(awaited.worker.rss),
                    rss_bytes=awaited.worker.rss,
                    cap_mb=_mb(memory.max_worker_rss or 0),
                    signal=memory.worker_signal.name,
                    recycled=recycler.total,
                    last_hour=len(recycler.recent),
                    **self._off_socket(fact),
                )
        elif fact.gone:
            recycler.not_signalled(fact.pid)
            self._emit("worker_not_signalled", also=MEMORY, pid=fact.pid, reason=fact.error)
        else:
            paused = recycler.pause(f"worker {fact.pid} could not be signalled: {fact.error}")
            self._recycling_paused(paused.reason)

    def _off_socket(self, fact: WorkerSignalled) -> dict[str, object]:
        """What taking it off the held socket did, where one is held."""
        if self.config.app.listen is None:
            return {}
        said = {"paused": fact.paused, "unread": fact.unread}
        return {**said, "problems": list(fact.problems)} if fact.problems else said

    def _recycling_paused(self, reason: str) -> None:
        self._emit(
            "worker_recycling_paused", level="warning", also=MEMORY, reason=reason, until=UNTIL
        )
