"""The effects: each command of the controller carried out, each outcome turned into a fact.

A command that is over at once (Spawn, Freeze, Emit ...) returns its fact, which the
runtime steps before anything else; a long one (a stop, a snapshot, a reload's read, the
acceptance watch) runs as a task that queues its fact when done, so the loop goes on
draining facts (a SIGTERM during a restart) meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from watchdog.core.bookkeeping import FromNow
from watchdog.core.commands import (
    Answer,
    CancelSnapshot,
    CleanLogs,
    Command,
    Emit,
    Freeze,
    PostApp,
    ReadConfig,
    Reconfigure,
    ReloadInPlace,
    SignalApp,
    SignalWorker,
    Spawn,
    StartProbes,
    StopAccepting,
    StopProbes,
    StopTree,
    TakeSnapshot,
    WatchAccepting,
)
from watchdog.core.facts import Fact, SnapshotTaken
from watchdog.outputs.logs import clean_logs
from watchdog.process.tree import freeze_tree, left_outside
from watchdog.runtime.childeffects import ChildEffects
from watchdog.runtime.remedies import post_app, signal_app
from watchdog.runtime.shell import Shell

SNAPSHOT_SAMPLES = 20  # the last samples a diagnostic snapshot shows

Queue = Callable[[Fact], None]


def resolve(value: Any) -> Any:
    """Values as outputs write them: a FromNow becomes a wall-clock time."""
    if isinstance(value, FromNow):
        at = time.time() + value.seconds
        return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds") if value.iso else at
    if isinstance(value, Mapping):
        return {key: resolve(item) for key, item in value.items()}
    return value


class Effects(ChildEffects):
    """Carries out commands against the shell's state: the children, probes, outputs."""

    def __init__(self, shell: Shell, queue: Queue) -> None:
        self.shell = shell
        self._queue = queue
        self._snapshots: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def do(self, command: Command) -> Fact | None:
        """Carry out `command`; the fact it gave at once, if any (a Spawn's)."""
        return self._handlers[type(command)](self, command)

    def _emit(self, command: Emit) -> None:
        fields = resolve(command.fields)
        self.shell.emit(command.name, level=command.level, category=command.category, **fields)

    def _answer(self, command: Answer) -> None:
        state, detail = self.shell.ops.state, resolve(command.detail)
        if command.request is None:
            state.control_outcome(command.outcome, **detail)
        else:
            state.control(command.request, command.outcome, **detail)

    def _start_probes(self, command: StartProbes) -> None:
        self.shell.watch(command.generation, command.delay, command.every)

    def _stop_probes(self, _: StopProbes) -> None:
        self.shell.unwatch()

    def _stop_tree(self, command: StopTree) -> None:
        self._run(self._stop(command.generation, command.spare))

    def _stop_accepting(self, command: StopAccepting) -> None:
        self._run(self._quiesce(command.generation))

    def _reload_in_place(self, command: ReloadInPlace) -> None:
        self._run(self._reload(command.generation, command.signal, command.timeout))

    def _freeze(self, _: Freeze) -> None:
        freeze_tree()

    def _watch(self, command: WatchAccepting) -> None:
        self._run(self._watch_accepting(command.generation, command.timeout))

    def _clean_logs(self, _: CleanLogs) -> None:
        self.shell.emit("logs_cleaned", removed=clean_logs(self.shell.config))

    def _read(self, _: ReadConfig) -> None:
        self._run(self._read_config())

    def _reconfigure(self, command: Reconfigure) -> Fact:
        return self.shell.reconfigure(command.config)  # type: ignore[arg-type]

    def _signal_app(self, command: SignalApp) -> Fact:
        return signal_app(self.shell.children, command, self.shell.clock())

    def _post_app(self, command: PostApp) -> None:
        async def post() -> None:
            self._queue(await post_app(self.shell, command))

        self._run(post())

    _handlers: ClassVar[dict[type, Callable[[Any, Any], Fact | None]]] = {}

    def _run(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def aclose(self) -> None:
        """Cancel whatever is still under way (a shutdown after an internal error)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- snapshots and reloads --------------------------------------------------------

    def _snapshot(self, command: TakeSnapshot | CancelSnapshot) -> None:
        if isinstance(command, CancelSnapshot):
            task = self._snapshots.get(command.ticket)
            if task is not None:
                task.cancel()
            return
        self._snapshots[command.ticket] = self._run(self._take(command))

    async def _take(self, command: TakeSnapshot) -> None:
        shell = self.shell
        child = shell.children.get(command.generation)
        tree = list(shell.tree_pids)
        later = [other.pid for gen, other in shell.children.items() if gen > command.generation]
        if command.exit_info is not None and (later or shell.tree_generation != command.generation):
            # A crash respawned past: what is left of it is what runs outside the later
            # children's trees, watched or not (one may be failing its start, or stopping).
            tree = left_outside(*later)
        pids = [child.pid, *tree] if child is not None and command.exit_info is None else tree
        try:
            path = await shell.postmortem.snapshot(
                command.generation,
                pids,
                command.reason,
                history=shell.history.recent(SNAPSHOT_SAMPLES),
                levels=command.levels,
                trend=command.trend,
                exit_info=command.exit_info,
            )
        except asyncio.CancelledError:
            self._queue(SnapshotTaken(command.ticket, None, cancelled=True))
            return
        finally:
            self._snapshots.pop(command.ticket, None)
        self._queue(SnapshotTaken(command.ticket, None if path is None else str(path)))

    async def _read_config(self) -> None:
        self._queue(await self.shell.read_config())


Effects._handlers.update(
    {
        Emit: Effects._emit,
        Answer: Effects._answer,
        Spawn: Effects._spawn,
        StartProbes: Effects._start_probes,
        StopProbes: Effects._stop_probes,
        StopTree: Effects._stop_tree,
        StopAccepting: Effects._stop_accepting,
        ReloadInPlace: Effects._reload_in_place,
        Freeze: Effects._freeze,
        TakeSnapshot: Effects._snapshot,
        CancelSnapshot: Effects._snapshot,
        WatchAccepting: Effects._watch,
        CleanLogs: Effects._clean_logs,
        ReadConfig: Effects._read,
        Reconfigure: Effects._reconfigure,
        SignalApp: Effects._signal_app,
        PostApp: Effects._post_app,
        SignalWorker: Effects._signal_worker,
    }
)
