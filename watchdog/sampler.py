"""psutil sampling of the child's whole tree and of the host; a vanished pid is skipped."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

from watchdog.observations import DiskUsage, Sample

CGROUP_ROOT = Path("/sys/fs/cgroup")


def memory_limit() -> tuple[int, str]:
    """Bytes the child may use and where that figure comes from (cgroup v2, else host)."""
    host = psutil.virtual_memory().total
    limit = cgroup_memory_max() or _cgroup_v1_limit()
    if limit is not None and 0 < limit[0] < host:
        return limit
    return host, "host"


def _cgroup_v1_limit() -> tuple[int, str] | None:
    # A container sees its own v1 memory cgroup at the mount's root; "no limit" reads as
    # a number near 2**63, which the comparison with the host's total filters out.
    with contextlib.suppress(OSError, ValueError):
        text = (CGROUP_ROOT / "memory" / "memory.limit_in_bytes").read_text()
        return int(text), "cgroup v1 memory.limit_in_bytes"
    return None


def cgroup_memory_max(root: Path = CGROUP_ROOT) -> tuple[int, str] | None:
    """The tightest memory.max on our cgroup v2 path, if any level sets one."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    relative = next((line[3:] for line in lines if line.startswith("0::")), None)
    if relative is None:
        return None
    directory = root / relative.lstrip("/")
    tightest: tuple[int, str] | None = None
    while True:
        with contextlib.suppress(OSError, ValueError):
            text = (directory / "memory.max").read_text().strip()
            if text != "max" and (tightest is None or int(text) < tightest[0]):
                where = "/" + str(directory.relative_to(root)).removeprefix(".")
                tightest = (int(text), f"cgroup {where}")
        if directory == root or root not in directory.parents:
            return tightest
        directory = directory.parent


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

    def sample(self) -> Sample:
        now, wall = self._clock(), time.time()
        procs = rss = threads = fds = 0
        cpu_seconds = 0.0
        seen: dict[int, tuple[float, float]] = {}
        for process in _descendants():
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
            procs += 1
            rss += its_rss
            threads += its_threads
            fds += its_fds
            seen[process.pid] = (created, used)
            cpu_seconds += self._cpu_since_last(process.pid, created, used, wall)
        self._cpu_seen = seen
        elapsed = now - self._last[0] if self._last else 0.0
        self._last = (now, wall)
        limit, source = memory_limit()
        return Sample(
            at=now,
            procs=procs,
            tree_rss=rss,
            tree_cpu=100.0 * cpu_seconds / elapsed if elapsed > 0 else 0.0,
            threads=threads,
            fds=fds,
            cpus=_usable_cpus(),
            memory_limit=limit,
            memory_limit_source=source,
            host_memory=_host_memory_percent(limit, source),
            host_cpu=psutil.cpu_percent(interval=None),
            disks=tuple(_disks(self.disk_paths)),
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


def _descendants() -> list[psutil.Process]:
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


def _host_memory_percent(limit: int, source: str) -> float:
    if source != "host":
        with contextlib.suppress(OSError, ValueError):
            current = int((CGROUP_ROOT / "memory.current").read_text())
            return 100.0 * current / limit if limit > 0 else 0.0
    return psutil.virtual_memory().percent


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
