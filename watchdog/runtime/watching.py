"""The watching loops: probes, samples, the quick cap check, daily housekeeping, the reaper.
Each only measures and queues what it found; what it means is the controller's to say."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable

from watchdog.core.facts import CapCrossed, Exited, Fact, Probed, Sampled
from watchdog.core.observations import ProbeResult
from watchdog.outputs.logs import clean_logs
from watchdog.process.tree import app_pids, reap_all
from watchdog.runtime.shell import Shell
from watchdog.sensors.rss import CapPacer, tree_rss
from watchdog.sensors.sampler import Sampler

HOUSEKEEPING_INTERVAL = 86400.0  # the guide's daily cleanup_old_logs
CAP_CHECK_SHARE = 0.02  # of one core, at most, for the quick cap checks

Queue = Callable[[Fact], None]


async def probe_loop(
    shell: Shell, queue: Queue, generation: int, delay: float, every: float
) -> None:
    await asyncio.sleep(delay)
    next_at = shell.clock()
    while True:
        await asyncio.sleep(max(0.0, next_at - shell.clock()))
        started = shell.clock()
        result = attributed(shell, await shell.prober.probe())
        queue(Probed(generation, result))
        next_at = started + every


def attributed(shell: Shell, result: ProbeResult) -> ProbeResult:
    """An answer counts only if the app gave it: a stranger on the port does not."""
    if result.status is None or shell.answers is None:
        return result
    stranger = shell.answers.stranger(app_pids)
    if stranger is None:
        return result
    error = f"probe answered by {stranger}, not by the app"
    return dataclasses.replace(result, ok=False, error=error)


async def sample_loop(shell: Shell, queue: Queue) -> None:
    """Every resources.interval: the child's tree and the host, measured with psutil."""
    sampler = Sampler(shell.config.resources.disk.paths, shell.clock)
    failing = False
    while True:
        await asyncio.sleep(shell.config.resources.interval)
        sampler.disk_paths = tuple(shell.config.resources.disk.paths)  # a reload may change them
        generation = shell.watched
        child = shell.children.get(generation) if generation is not None else None
        try:
            sample = sampler.sample(child.pid if child else None, generation)
        except Exception as exc:  # noqa: BLE001 - a bad sample must not end sampling
            if not failing:
                shell.emit("sample_failed", level="error", error=repr(exc))
            failing = True
            continue
        failing = False
        shell.tree_pids, shell.tree_generation = sample.pids, generation
        queue(Sampled(sample))


async def cap_loop(shell: Shell, queue: Queue) -> None:
    """With a max_rss: the tree's RSS from a few /proc reads, paced by how close to the
    cap it is and how fast it grows (every cap_interval at the quickest)."""
    cost, delay, checked = 0.0, 0.0, None
    pacer = CapPacer(shell.config.resources.memory.cap_interval)
    while True:
        memory = shell.config.resources.memory  # a reload may change both
        if memory.max_rss is None:
            # Asleep until a reload, which may set a cap: a look every second was a tenth
            # of what an idle watchdog spent at the guide's pace.
            shell.reloaded.clear()
            await shell.reloaded.wait()
            continue
        pacer.shortest = memory.cap_interval
        # A big tree makes each check dearer: keep them under CAP_CHECK_SHARE of a core.
        await asyncio.sleep(max(delay, memory.cap_interval, cost / CAP_CHECK_SHARE))
        generation = shell.watched
        child = shell.children.get(generation) if generation is not None else None
        if child is None:
            delay = 0.0
            continue
        if generation != checked:
            checked = generation
            pacer.restart()
        started = time.process_time()
        rss = tree_rss(child.pid, shell.tree_pids)
        cost = time.process_time() - started
        now = shell.clock()
        if rss >= memory.max_rss:
            queue(CapCrossed(child.generation, rss, now))
        delay = pacer.next_delay(rss, memory.max_rss, now)


async def housekeeping(shell: Shell) -> None:
    """Once a day, the guide's cleanup_old_logs: rotated files past retention go."""
    while True:
        removed = clean_logs(shell.config)
        if removed:
            shell.emit("logs_cleaned", removed=removed)
        await asyncio.sleep(HOUSEKEEPING_INTERVAL)


def reap(shell: Shell, queue: Queue) -> None:
    """On SIGCHLD: every ended child of the app's, ours or an adopted orphan."""
    now = shell.clock()
    by_pid = {child.pid: child for child in shell.children.values()}
    ended = []
    for pid, status in reap_all():
        child = by_pid.get(pid)
        if child is None:
            shell.emit("orphan_reaped", level="debug", pid=pid)
            continue
        ended.append((child, child.record_exit(status, now)))
    # What is still running of the app: whether a crashed child's orphans could be in the
    # way of the next one (a few reads of the kernel's children lists).
    left = len(app_pids()) if ended else 0
    for child, exit_ in ended:
        description = shell.postmortem.describe_exit(child.generation, exit_)
        queue(Exited(child.generation, exit_, description, left))
