"""A first crash: the dead API comes back first, then its snapshot and its orphans' sweep.

A crash the crash count answers with an immediate respawn (the first of a series) starts
the new child at once. The snapshot of the crashed one and the sweep of what it left
behind come after, once the new child has answered (or ended): neither stands in front of
the spawn, nor competes with the new child's boot. What it left behind goes first only
where it can stand in the way: processes of it still running and no socket held by the
watchdog, so that one of them may hold the app's port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchdog.core.bookkeeping import ChildRecord, ControllerBase
from watchdog.core.commands import CancelSnapshot, StopTree
from watchdog.core.decisions import GiveUp, Respawn
from watchdog.core.lifecycle import ChildState

if TYPE_CHECKING:
    from watchdog.core.facts import SnapshotTaken, Stopped


@dataclass(slots=True)
class LeftBehind:
    """The crashed child, respawned past: its snapshot and sweep still to come."""

    child: ChildRecord
    reason: str
    exit_info: dict[str, object]
    ticket: int | None = None  # its snapshot, once asked for
    cancelled: bool = False  # that snapshot, since the watchdog is stopping
    sweeping: bool = False


class CrashSteps(ControllerBase):
    def _respawned_first(self, child: ChildRecord, exit_info: dict[str, object]) -> bool:
        """Respawn now, snapshot and sweep later, if nothing of it can be in the way."""
        assert child.exit is not None
        if self.exiting or self.held is not None or self.left_behind is not None:
            return False
        if child.left and self.config.app.listen is None:
            return False  # one of them may hold the port the new child must bind
        decision = self.policy.on_crash(child.exit_text or "exited", child.exit.at)
        if not (isinstance(decision, Respawn) and decision.delay <= 0):
            self.crash_decision = decision  # counted once: the sweep acts on it
            return False
        assert self.plan is not None
        self.left_behind = LeftBehind(child, self.plan.reason, exit_info)
        self.plan = None
        self._report_exit(child)  # its snapshot follows: diagnostics_written
        self._account(decision)
        return True

    def _counted_crash(self, child: ChildRecord) -> Respawn | GiveUp:
        """The crash count's answer: decided at the exit already, or now."""
        decision, self.crash_decision = self.crash_decision, None
        if decision is not None:
            return decision
        assert child.exit is not None
        return self.policy.on_crash(child.exit_text or "exited", child.exit.at)

    def _left_behind_after(self) -> None:
        """After each step: once the new child no longer boots, the crashed one's turn."""
        left = self.left_behind
        if left is None or left.sweeping:
            return
        if self.exiting:
            if left.ticket is None:  # never asked for; the watchdog's last sweep takes the rest
                self._skipped(left)
            elif not left.cancelled:  # its fact tells whether it was written all the same
                self._do(CancelSnapshot(left.ticket))
                left.cancelled = True
            return
        if left.ticket is not None or self.state is ChildState.STARTING:
            return
        if not self.config.diagnostics.enabled:
            self._sweep_left_behind()
            return
        left.ticket = self._take_snapshot(left.child.generation, left.reason, left.exit_info)

    def _left_behind_snapshot(self, fact: SnapshotTaken) -> bool:
        left = self.left_behind
        if left is None or left.ticket is None or fact.ticket != left.ticket:
            return False
        left.ticket = None
        if fact.cancelled:
            self._skipped(left)
            return True
        if fact.path is None:
            directory = str(self.config.diagnostics.directory)
            self._emit(
                "diagnostics_failed", level="warning", reason=left.reason, directory=directory
            )
        else:
            self._emit("diagnostics_written", pid=left.child.pid, reason=left.reason,
                       diagnostics=fact.path)  # fmt: skip
        if self.exiting:
            self.left_behind = None  # the watchdog's last sweep takes what it left
        else:
            self._sweep_left_behind()
        return True

    def _skipped(self, left: LeftBehind) -> None:
        if self.config.diagnostics.enabled:  # else none was ever to be taken
            self._emit("diagnostics_skipped", reason=left.reason, detail="the watchdog is stopping")
        self.left_behind = None

    def _sweep_left_behind(self) -> None:
        left = self.left_behind
        assert left is not None
        left.sweeping = True
        child = self.child
        spare = child.generation if child is not None and not child.dead else None
        self._do(StopTree(left.child.generation, spare=spare))

    def _left_behind_stopped(self, fact: Stopped) -> bool:
        left = self.left_behind
        if left is None or fact.generation != left.child.generation:
            return False
        self.left_behind = None
        if left.sweeping:
            self._report_orphans(fact.outcome)
        return True
