"""Two children at once: the overlap restart's handover on the held socket.

The new child starts while the old one serves (HANDOVER); once it takes connections, the
old one is stopped and drains (DRAINING), then the new one is the child. A new child that
dies or never accepts is stopped, its stop logged, and the old one keeps serving: the
restart failed, and the policy's next decision (throttled) may try again.
"""

from __future__ import annotations

import shlex

from watchdog.core.bookkeeping import ChildRecord, ControllerBase, Kill, Plan
from watchdog.core.commands import Spawn, StartProbes, StopTree, WatchAccepting
from watchdog.core.facts import Accepting, Exited, NotAccepting, Spawned, Stopped
from watchdog.core.lifecycle import ChildState, Trigger

STOPPING_REASON = "the watchdog is stopping"


class OverlapSteps(ControllerBase):
    def _begin_overlap(self) -> None:
        old = self.child
        assert old is not None
        if self.exiting:
            self._emit("restart_cancelled", reason=STOPPING_REASON, pid=old.pid)
            self._stop_current(Plan(Kill.SHUTDOWN, STOPPING_REASON))
            return
        self.generation += 1
        self.incoming = ChildRecord(self.generation, self._now, app=self.config.app)
        self.incoming_cancelled = False
        self._fire(Trigger.OVERLAP)
        self._do(Spawn(self.generation, overlap=True))

    def _incoming_spawned(self, fact: Spawned) -> None:
        new, old = self.incoming, self.child
        assert new is not None
        assert old is not None
        new.spawned(fact)
        self._emit(
            "child_started",
            pid=fact.pid,
            previous_pid=old.pid,
            strategy="overlap",
            command=shlex.join(self.config.app.command),
        )
        if self.exiting:
            self._cancel_incoming(STOPPING_REASON)
        else:
            self._do(WatchAccepting(new.generation, self.config.health.startup_timeout))

    def _incoming_failed(self, error: str) -> None:
        self.incoming = None  # nothing started: nothing to stop
        self._fall_back(error, None)

    def _incoming_exited(self, fact: Exited) -> None:
        new = self.incoming
        assert new is not None
        new.exit, new.exit_text = fact.exit, fact.description
        # While handing over, the acceptance watch reports it (NotAccepting); once it
        # served, it is this child's crash, handled when the old one is stopped.

    def on_accepting(self, fact: Accepting) -> None:
        if not self._handing_over(fact.generation):
            return
        new, old = self.incoming, self.child
        assert new is not None
        assert old is not None
        self._emit("child_accepting", pid=new.pid, after=round(fact.at - new.started_at, 3))
        if old.dead:  # died meanwhile: no crash to count, the new child serves
            self._report_exit(old, during="an overlap restart")
        self._fire(Trigger.ACCEPTED)
        self._off_the_socket(old, then=self._drain_old)

    def _drain_old(self) -> None:
        """The old child's stop, while the new one serves: its drain."""
        new, old = self.incoming, self.child
        assert new is not None
        assert old is not None
        app = self.config.app
        self._emit(
            "child_stopping", pid=old.pid, signal=app.stop_signal.name, timeout=app.stop_timeout
        )
        self._do(StopTree(old.generation, spare=new.generation))

    def on_not_accepting(self, fact: NotAccepting) -> None:
        if self._handing_over(fact.generation):
            self._cancel_incoming(fact.reason)

    def _handing_over(self, generation: int) -> bool:
        new = self.incoming
        return (
            new is not None
            and generation == new.generation
            and self.state is ChildState.HANDOVER
            and not self.incoming_cancelled
        )

    def _cancel_incoming(self, reason: str) -> None:
        """The new child will not serve: stop it like any child, then fall back."""
        new, old = self.incoming, self.child
        assert new is not None
        assert old is not None
        self.incoming_cancelled, self.fallback_reason = True, reason
        app = self.config.app
        self._emit(
            "child_stopping", pid=new.pid, signal=app.stop_signal.name, timeout=app.stop_timeout
        )
        self._do(StopTree(new.generation, spare=old.generation))

    def _incoming_stopped(self, fact: Stopped) -> None:
        new = self.incoming
        assert new is not None
        self._report_stopped(new, fact)
        self.incoming = None
        self._fall_back(self.fallback_reason, new.pid)

    def _fall_back(self, reason: str, new_pid: int | None) -> None:
        old = self.child
        assert old is not None
        serving = None if old.dead else old.pid
        self._restart_outcome("restart_failed", detail=reason, pid=new_pid, serving_pid=serving)
        if self.exiting:
            self._emit("restart_cancelled", reason=reason, pid=new_pid, serving_pid=serving)
            if old.dead:
                self._fire(Trigger.EXIT)
                self._finish()
            else:
                self._fire(Trigger.FELL_BACK if old.healthy else Trigger.FELL_BACK_BOOTING)
                self._stop_current(Plan(Kill.SHUTDOWN, STOPPING_REASON))
            return
        if old.dead:
            self._emit(
                "restart_failed",
                level="error",
                reason=reason,
                pid=new_pid,
                serving_pid=None,
                action="the old child has exited too",
            )
            self._crashed(old)  # no child serves now: the old one's exit is a crash
            return
        self._emit(
            "restart_failed",
            level="error",
            reason=reason,
            pid=new_pid,
            serving_pid=old.pid,
            action="the old child keeps serving",
        )
        self._fire(Trigger.FELL_BACK if old.healthy else Trigger.FELL_BACK_BOOTING)
        # Watched as before, from its own start; the throttle keeps the attempt, so a cause
        # that persists is recommended again and retried when the throttle allows.
        self.policy.restart_failed(old.started_at)
        self.planner.child_started(old.started_at, old.lot)
        health = self.config.health
        pace = health.interval if old.healthy else health.startup_interval
        self._do(StartProbes(old.generation, 0.0, pace))
        self._restart_for_a_changed_app()

    def _handed_over(self) -> None:
        """The old child is stopped: the new one is the child now."""
        new = self.incoming
        assert new is not None
        self.previous_pid = self.child.pid if self.child else None
        self.child, self.incoming = new, None
        self._fire(Trigger.HANDED_OVER)
        self.down_since = None  # the socket never went unserved
        self.policy.child_started(new.started_at)
        self.planner.child_started(new.started_at, new.lot)
        if new.dead:
            self._crashed(new)
        elif self.exiting:
            self._stop_current(Plan(Kill.SHUTDOWN, STOPPING_REASON))
        else:
            self._do(StartProbes(new.generation, 0.0, self.config.health.startup_interval))
            self._restart_for_a_changed_app()
