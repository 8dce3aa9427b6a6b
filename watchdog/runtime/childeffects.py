"""The effects on the app's processes: spawn, stop a tree, take a child off the held socket,
reload it in place, watch a new child until it accepts. Each long one is a coroutine that
queues its fact when done."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Callable
from dataclasses import replace

from watchdog.core.commands import SignalWorker, Spawn
from watchdog.core.facts import (
    Accepting,
    Fact,
    NotAccepting,
    NotReloaded,
    Spawned,
    SpawnFailed,
    StopOutcome,
    Stopped,
    StoppedAccepting,
    WorkerSignalled,
    WorkersReplaced,
)
from watchdog.core.units import format_duration
from watchdog.process.child import Child, SpawnError, spawn
from watchdog.process.handover import until_accepting
from watchdog.process.heldsocket import socket_inode
from watchdog.process.quiesce import stop_accepting
from watchdog.process.tree import children_of, stop_tree
from watchdog.process.workers import NotALeaf, NotOurs, prove_worker, signal_worker
from watchdog.runtime.shell import Shell, settle

WORKERS_POLL = 0.05  # seconds between looks for the reloaded master's new workers
QUIESCE_TIMEOUT = 1.0  # the longest a stop waits for the old child to read what it took


class ChildEffects:
    shell: Shell
    _queue: Callable[[Fact], None]

    def _spawn(self, command: Spawn) -> Fact:
        generation, overlap = command.generation, command.overlap
        shell = self.shell
        now = shell.clock()
        try:
            child = spawn(
                shell.config.app,
                generation,
                shell.output_sink(generation),
                now,
                shell.listener,
                mark=shell.mark(),
            )
        except SpawnError as exc:
            return SpawnFailed(generation, str(exc), now)
        shell.children[generation] = child
        shell.postmortem.child_started(generation)
        if not overlap and shell.answers is not None:
            shell.answers.forget()  # what the old tree held proves nothing about this one
        # Where this child's planned restart falls in max_uptime_jitter: not a secret.
        lot = random.random()  # noqa: S311
        return Spawned(generation, child.pid, now, child.started_wall, lot)

    async def _stop(self, generation: int | None, spare: int | None) -> None:
        shell = self.shell
        app = shell.config.app
        child = shell.children.get(generation) if generation is not None else None
        spared = shell.children.get(spare) if spare is not None else None
        pgid = child.pid if child is not None else None

        def later() -> list[int]:
            if generation is None:
                return []  # the last sweep: everything
            return [other.pid for gen, other in shell.children.items() if gen > generation]

        report = await stop_tree(
            pgid,
            app.stop_signal,
            app.stop_timeout,
            shell.clock,
            spare=spared.pid if spared else None,
            later=later,
        )
        exit_ = exit_text = None
        if child is not None:
            exit_ = await settle(child)
            if exit_ is not None:
                exit_text = shell.postmortem.describe_exit(generation, exit_, report.killed > 0)
            shell.children.pop(generation, None)
        outcome = StopOutcome(report.signalled, report.killed, report.survivors, report.took)
        self._queue(Stopped(generation, exit_, outcome, exit_text, shell.clock()))

    async def _quiesce(self, generation: int) -> None:
        shell = self.shell
        child = shell.children.get(generation)
        if child is None or shell.listener is None or child.exited.done():
            self._queue(StoppedAccepting(generation, 0, 0, 0.0))
            return
        done = await stop_accepting(
            child.pid, socket_inode(shell.listener), QUIESCE_TIMEOUT, shell.clock
        )
        self._queue(
            StoppedAccepting(generation, done.paused, done.unread, done.took, done.problems)
        )

    async def _watch_accepting(self, generation: int, timeout: float) -> None:
        shell = self.shell
        child: Child | None = shell.children.get(generation)
        if child is None or shell.listener is None:
            self._queue(NotAccepting(generation, "the new child is gone", shell.clock()))
            return
        inode = socket_inode(shell.listener)
        failure = await until_accepting(child, inode, timeout, shell.clock, lambda: False)
        now = shell.clock()
        if failure is None:
            self._queue(Accepting(generation, now))
        else:
            self._queue(NotAccepting(generation, failure, now))

    async def _reload(self, generation: int, signal_name: str, timeout: float) -> None:
        """The reload signal to our own child, then new workers of its own looked for."""
        shell, clock = self.shell, self.shell.clock
        child = shell.children.get(generation)
        if child is None or child.exited.done():
            self._queue(NotReloaded(generation, "the app is gone", clock()))
            return
        before = tuple(children_of(child.pid))
        if not before:
            why = "its main process has no workers: nothing would show that it reloaded"
            self._queue(NotReloaded(generation, why, clock()))
            return
        os.kill(child.pid, signal.Signals[signal_name])  # not reaped: the pid is still ours
        deadline, workers = clock() + timeout, list(before)
        while clock() < deadline:
            await asyncio.sleep(WORKERS_POLL)
            if child.exited.done():
                return  # its exit is a fact of its own
            workers = children_of(child.pid)
            if replaced(before, workers):
                self._queue(WorkersReplaced(generation, before, tuple(workers), clock()))
                return
        self._queue(NotReloaded(generation, not_replaced(before, workers, timeout), clock()))

    def _signal_worker(self, command: SignalWorker) -> None:
        self._run(self._recycle_worker(command))

    async def _recycle_worker(self, command: SignalWorker) -> None:
        """The signal goes only to the worker sampled, proven ours: a direct child of that
        generation's main process, which has not exited, with the same create time. Taken
        off the held socket first, it leaves what waits there to the other workers: an
        asyncio worker's shutdown would reset the connections it accepted but had not read."""
        shell, generation, pid = self.shell, command.generation, command.pid
        child = shell.children.get(generation)
        error, gone, done = None, False, None
        try:
            if child is None or child.exited.done():
                raise NotOurs("the app's main process has exited")
            if command.quiesce and shell.listener is not None:
                # Proven before it is touched; the signal below proves it again, through a
                # pidfd, for the moments the quiescing took.
                prove_worker(child.pid, pid, command.created)
                inode = socket_inode(shell.listener)
                done = await stop_accepting(pid, inode, QUIESCE_TIMEOUT, shell.clock)
            signal_worker(child.pid, pid, command.created, command.signal)
        except NotOurs as exc:
            error, gone = str(exc), True
        except NotALeaf as exc:
            error = str(exc)
        except OSError as exc:
            error = str(exc) or type(exc).__name__
        fact = WorkerSignalled(generation, pid, error, gone, shell.clock())
        if done is not None:
            fact = replace(fact, paused=done.paused, unread=done.unread, problems=done.problems)
        self._queue(fact)


def replaced(before: tuple[int, ...], workers: list[int]) -> bool:
    """New workers, and none of the old ones left: an answer now can only be a new one's.
    gunicorn forks the new workers and TERMs the old at once, and an old worker may serve on
    for a while; its answer would confirm a reload that has not happened yet."""
    return bool(workers) and not set(before) & set(workers)


def not_replaced(before: tuple[int, ...], workers: list[int], timeout: float) -> str:
    within = f"within health.startup_timeout ({format_duration(timeout)})"
    old = sorted(set(before) & set(workers))
    if len(old) < len(workers):
        return f"old workers {old} still running {within}: an answer could be theirs"
    return f"no new workers {within}"
