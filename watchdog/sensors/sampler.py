"""psutil sampling of the child's whole tree and of the host; a vanished pid is skipped."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

from watchdog.core.observations import DiskUsage, Sample, WorkerSample
from watchdog.process.tree import app_processes, children_of
from watchdog.sensors.cgroup import MemoryLimit, memory_limit, usage_percent

LIMIT_REFRESH = 60.0  # seconds between reads of the cgroup memory limit


class Sampler:
    """Samples our descendants (the child's tree: we are its subreaper) and the host."""

    def __init__(
        self, disk_paths: Iterable[Path], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.disk_paths = tuple(disk_paths)
        self._clock = clock
        # pid -> (create_time, cpu seconds) from the last sample, to turn totals into rates.
        self._cpu_seen: dict[int, tuple[float, float]] = {}
        self._last: tuple[float, float] | None = None  # (monotonic, wall) of the last sample
        psutil.cpu_percent(interval=None)  # primes the host figure: the next call is a rate
        self._limit: MemoryLimit | None = None
        self._limit_at = 0.0

    def sample(self, main: int | None = None, generation: int | None = None) -> Sample:
        """The tree and the host; with `main` (the pid of `generation`'s child), also the
        figures of each of its direct children, its workers if it is a pre-fork server."""
        now, wall = self._clock(), time.time()
        procs = rss = threads = fds = 0
        cpu_seconds = 0.0
        seen: dict[int, tuple[float, float]] = {}
        workers: list[WorkerSample] = []
        tree = app_processes()
        # A few reads of the main process's own children lists, whatever the tree's size
        # (psutil's ppid() would read each process's stat file once more).
        its_children = set(children_of(main)) if main is not None else set()
        for process in tree:
            try:
                with process.oneshot():
                    if process.status() == psutil.STATUS_ZOMBIE:
                        continue
                    created = process.create_time()
                    times = process.cpu_times()
                    used = times.user + times.system
                    its_rss = process.memory_info().rss
                    its_threads = process.num_threads()
                    its_fds = _fd_count(process)
            except psutil.Error:
                continue  # ended between listing and reading: count none of it
            if its_rss == 0:
                continue  # exiting: its memory is gone, only its zombie is yet to come
            procs += 1
            rss += its_rss
            threads += its_threads
            fds += its_fds
            seen[process.pid] = (created, used)
            if process.pid in its_children:
                workers.append(WorkerSample(process.pid, created, its_rss))
            cpu_seconds += self._cpu_since_last(process.pid, created, used, wall)
        self._cpu_seen = seen
        elapsed = now - self._last[0] if self._last else 0.0
        self._last = (now, wall)
        if self._limit is None or now - self._limit_at >= LIMIT_REFRESH:
            # A dozen cgroup files: a limit changes seldom (systemctl set-property), the
            # usage against it is read every time.
            self._limit, self._limit_at = memory_limit(), now
        limit = self._limit
        return Sample(
            at=now,
            procs=procs,
            tree_rss=rss,
            tree_cpu=100.0 * cpu_seconds / elapsed if elapsed > 0 else 0.0,
            threads=threads,
            fds=fds,
            cpus=_usable_cpus(),
            memory_limit=limit.size,
            memory_limit_source=limit.source,
            host_memory=_host_memory_percent(limit),
            host_cpu=psutil.cpu_percent(interval=None),
            disks=tuple(_disks(self.disk_paths)),
            pids=tuple(seen),
            workers=tuple(workers),
            workers_of=generation if main is not None else None,
        )

    def _cpu_since_last(self, pid: int, created: float, used: float, wall: float) -> float:
        previous = self._cpu_seen.get(pid)
        if previous is not None and previous[0] == created:
            return max(0.0, used - previous[1])
        # New since the last sample: all its CPU time falls in this interval.
        last_wall = self._last[1] if self._last else None
        return used if last_wall is not None and created >= last_wall - 1.0 else 0.0


def _usable_cpus() -> int:
    """The CPUs this process may run on (affinity), which is what its children get too."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return psutil.cpu_count() or 1


def _fd_count(process: psutil.Process) -> int:
    # A non-dumpable process (e.g. a binary with file capabilities) hides its fds from a
    # watchdog that is not root; it still counts for memory, CPU and the process count.
    try:
        return process.num_fds()
    except psutil.AccessDenied:
        return 0


def _host_memory_percent(limit: MemoryLimit) -> float:
    """Under a cgroup limit, "host" memory is the group's: that is where the OOM killer acts."""
    in_group = usage_percent(limit)
    return in_group if in_group is not None else psutil.virtual_memory().percent


def _disks(paths: tuple[Path, ...]) -> Iterable[DiskUsage]:
    devices: set[int] = set()
    for path in paths:
        try:
            device = os.stat(path).st_dev
            if device in devices:
                continue  # the log directory is often on / itself
            devices.add(device)
            usage = psutil.disk_usage(str(path))
        except OSError:
            continue
        yield DiskUsage(str(path), usage.percent, usage.free)
