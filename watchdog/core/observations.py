"""Facts that cross the boundary from the outside world into the decisions."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One health probe: `at` is when it finished, on the monotonic clock."""

    ok: bool
    status: int | None
    latency: float
    error: str | None
    at: float
    timed_out: bool = False  # no answer within the timeout: its latency is a lower bound


@dataclass(frozen=True, slots=True)
class ChildExit:
    """How the child ended: an exit code or the signal that killed it."""

    pid: int
    code: int | None
    signal: int | None
    at: float

    @classmethod
    def from_wait_status(cls, pid: int, status: int, at: float) -> ChildExit:
        if os.WIFSIGNALED(status):
            return cls(pid=pid, code=None, signal=os.WTERMSIG(status), at=at)
        return cls(pid=pid, code=os.waitstatus_to_exitcode(status), signal=None, at=at)


@dataclass(frozen=True, slots=True)
class DiskUsage:
    path: str
    percent: float
    free: int


@dataclass(frozen=True, slots=True)
class WorkerSample:
    """A direct child of the app's main process (a pre-fork server's worker), as sampled:
    `created` (psutil's create time) tells it from a later process with the same pid."""

    pid: int
    created: float
    rss: int


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at the child's process tree and the host, at `at` on the monotonic clock.

    `tree_cpu` is percent of one core summed over the tree (200 = two cores busy);
    `memory_limit` is what memory percentages are of: the cgroup's memory.max when the
    watchdog runs under one, else the host's total (`memory_limit_source` says which).
    """

    at: float
    procs: int
    tree_rss: int
    tree_cpu: float
    threads: int
    fds: int
    cpus: int
    memory_limit: int
    memory_limit_source: str
    host_memory: float
    host_cpu: float
    disks: tuple[DiskUsage, ...]
    pids: tuple[int, ...] = ()  # the tree as found, for the quick cap checks until the next
    # The direct children of `workers_of`'s main process (the generation probed then).
    workers: tuple[WorkerSample, ...] = ()
    workers_of: int | None = None

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.tree_rss / self.memory_limit if self.memory_limit else 0.0

    def cpu_percent(self, per_core: bool) -> float:
        return self.tree_cpu if per_core else self.tree_cpu / max(self.cpus, 1)
