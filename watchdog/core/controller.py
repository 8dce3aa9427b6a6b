"""The controller: every decision the watchdog makes, as `step(fact, now) -> [command]`.

It owns the lifecycle, the policy and the bookkeeping of children (generation, respawn
time, the incoming overlap child, downtime, a stop request). It reads no clock, sleeps,
spawns or logs: the runtime feeds it facts and carries out what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from watchdog.core.bookkeeping import FromNow
from watchdog.core.commands import Command, WakeAt
from watchdog.core.facts import (
    Accepting,
    Booted,
    CapCrossed,
    ConfigRead,
    Exited,
    Fact,
    NotAccepting,
    NotReloaded,
    Probed,
    Reconfigured,
    RemedyDone,
    Sampled,
    Signalled,
    SnapshotTaken,
    Spawned,
    SpawnFailed,
    Stopped,
    StoppedAccepting,
    TimerFired,
    WorkerSignalled,
    WorkersReplaced,
)
from watchdog.core.steps.children import ChildSteps
from watchdog.core.steps.crashes import CrashSteps
from watchdog.core.steps.kills import KillSteps
from watchdog.core.steps.operator import OperatorSteps
from watchdog.core.steps.overlap import OverlapSteps
from watchdog.core.steps.reload import ReloadSteps
from watchdog.core.steps.remedies import RemedySteps
from watchdog.core.steps.requests import RequestSteps
from watchdog.core.steps.workers import WorkerSteps

__all__ = ["Controller", "FromNow"]


class Controller(
    ChildSteps,
    KillSteps,
    OverlapSteps,
    ReloadSteps,
    RequestSteps,
    RemedySteps,
    WorkerSteps,
    OperatorSteps,
    CrashSteps,
):
    """Routes each fact to its step; ends every step with the wake-up it needs next."""

    def step(self, fact: Fact, now: float) -> list[Command]:
        self._now = now
        self._out = []
        self._handlers[type(fact)](self, fact)
        self._remedies_after(fact)  # on what the step measured, and how the child now stands
        self._left_behind_after()  # a crash respawned past: its snapshot once the new one boots
        wake = None if self.finishing else self.next_deadline()
        if wake != self._wake:
            self._wake = wake
            self._out.append(WakeAt(wake))
        return self._out

    _handlers: ClassVar[dict[type, Callable[[Any, Any], None]]] = {
        Booted: ChildSteps.on_booted,
        Spawned: ChildSteps.on_spawned,
        SpawnFailed: ChildSteps.on_spawn_failed,
        Probed: ChildSteps.on_probed,
        Sampled: ChildSteps.on_sampled,
        CapCrossed: ChildSteps.on_cap_crossed,
        Exited: ChildSteps.on_exited,
        Stopped: KillSteps.on_stopped,
        SnapshotTaken: KillSteps.on_snapshot_taken,
        StoppedAccepting: KillSteps.on_stopped_accepting,
        TimerFired: ChildSteps.on_timer,
        WorkersReplaced: ReloadSteps.on_workers_replaced,
        NotReloaded: ReloadSteps.on_not_reloaded,
        Accepting: OverlapSteps.on_accepting,
        NotAccepting: OverlapSteps.on_not_accepting,
        Signalled: RequestSteps.on_signalled,
        ConfigRead: RequestSteps.on_config_read,
        Reconfigured: RequestSteps.on_reconfigured,
        RemedyDone: RemedySteps.on_remedy_done,
        WorkerSignalled: WorkerSteps.on_worker_signalled,
    }
