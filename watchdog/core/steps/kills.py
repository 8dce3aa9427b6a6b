"""The end of a child: the kill decided with its snapshot first, the stop, the crash with
the sweep of its orphans, and what the crash count says comes next."""

from __future__ import annotations

from collections.abc import Callable

from watchdog.core.bookkeeping import EXIT_CRASH_LOOP, ChildRecord, ControllerBase, Kill, Plan
from watchdog.core.commands import Freeze, StopAccepting, StopProbes, StopTree, TakeSnapshot
from watchdog.core.decisions import GiveUp, Respawn
from watchdog.core.facts import SnapshotTaken, StopOutcome, Stopped, StoppedAccepting
from watchdog.core.lifecycle import ChildState, Trigger
from watchdog.core.report import trend_record


class KillSteps(ControllerBase):
    def _crashed(self, child: ChildRecord) -> None:
        assert child.exit is not None
        if self.state is not ChildState.EXITED:
            self._fire(Trigger.EXIT)
        self._do(StopProbes())
        self.planner.child_gone()
        self.baseline.child_gone()
        if self.down_since is None:
            self.down_since = child.exit.at
        self._restart_outcome("restart_failed", detail=f"the new child exited: {child.exit_text}")
        self.plan = Plan(Kill.CRASH, f"exited: {child.exit_text}")
        exit_info: dict[str, object] = {
            "code": child.exit.code,
            "signal": child.exit.signal,
            "description": child.exit_text,
        }
        if not self._respawned_first(child, exit_info):
            self._snapshot(exit_info)

    def _report_exit(self, child: ChildRecord, **fields: object) -> None:
        assert child.exit is not None
        self._emit(
            "child_exited",
            level="error",
            pid=child.exit.pid,
            exit=child.exit_text,
            code=child.exit.code,
            signal=child.exit.signal,
            uptime=round(child.exit.at - child.started_at, 3),
            **fields,
        )

    # -- the kill: snapshot first, while the tree is still there --------------------------

    def _kill(self, kind: Kill, reason: str, *, diagnose: bool = True) -> None:
        self._fire(Trigger.KILL)
        self._do(StopProbes())
        self.planner.child_gone()
        self.baseline.child_gone()
        self.plan = Plan(kind, reason, diagnose=diagnose)
        if kind is Kill.OVER_CAP:
            self._do(Freeze())  # held still while the snapshot is taken: a hard cap stays hard
        self._snapshot()

    def _snapshot(self, exit_info: dict[str, object] | None = None) -> None:
        plan, child = self.plan, self.child
        assert plan is not None
        assert child is not None
        if not self.config.diagnostics.enabled or not plan.diagnose:
            self._after_snapshot(None)
            return
        plan.ticket = self._take_snapshot(child.generation, plan.reason, exit_info)

    def _take_snapshot(
        self, generation: int, reason: str, exit_info: dict[str, object] | None
    ) -> int:
        """Ask for a snapshot of `generation`'s tree; its ticket."""
        rules = self.policy.resources
        trend = rules.last_trend if rules else None
        ticket = self._ticket()
        self._do(
            TakeSnapshot(
                ticket,
                generation,
                reason,
                levels=self.levels(),
                trend=trend_record(trend) if trend else None,
                exit_info=exit_info,
            )
        )
        return ticket

    def on_snapshot_taken(self, fact: SnapshotTaken) -> None:
        if self._left_behind_snapshot(fact):
            return
        plan = self.plan
        if plan is None or fact.ticket != plan.ticket:
            return
        plan.ticket = None
        if fact.cancelled:
            self._emit(
                "diagnostics_skipped", reason=plan.reason, detail="the watchdog is stopping"
            )
        elif fact.path is None:
            directory = str(self.config.diagnostics.directory)
            self._emit(
                "diagnostics_failed", level="warning", reason=plan.reason, directory=directory
            )
        self._after_snapshot(fact.path)

    def _after_snapshot(self, path: str | None) -> None:
        plan, child = self.plan, self.child
        assert plan is not None
        assert child is not None
        if plan.kind is Kill.CRASH:
            self._report_exit(child, diagnostics=path)
            # Its orphans were re-parented to us: a crashed app leaves nothing running.
            self._do(StopTree(child.generation))
            return
        if plan.kind is Kill.FAILED_START:
            self._emit("child_failed_start", level="error", reason=plan.reason, diagnostics=path)
        else:
            self._emit(
                "restart_triggered",
                level="warning",
                reason=plan.reason,
                pid=child.pid,
                diagnostics=path,
            )
        if plan.kind is not Kill.RESTART:
            self._stop_current()  # sick (no start, over its cap): nothing to hand over
        elif self._reloads_in_place() and not self.exiting:
            self._reload_in_place()
        else:
            self._restart_the_configured_way()

    def _restart_the_configured_way(self) -> None:
        """A restart of a live child: the new one beside it (overlap), or after it."""
        child = self.child
        assert child is not None
        held = self.config.app.listen is not None
        if self.config.restart.strategy == "overlap" and held:
            self._begin_overlap()
        else:
            self._off_the_socket(child, then=self._stop_current)

    def _off_the_socket(self, child: ChildRecord, then: Callable[[], None]) -> None:
        """Before a planned stop: the child takes no new connection from the held socket
        and reads those it took, so its shutdown drops none; then `then`."""
        if self.config.app.listen is None or child.dead:
            then()
            return
        self.quiescing = (child.generation, then)
        self._do(StopAccepting(child.generation))

    def on_stopped_accepting(self, fact: StoppedAccepting) -> None:
        if self.quiescing is None or fact.generation != self.quiescing[0]:
            return
        then, self.quiescing = self.quiescing[1], None
        warn = bool(fact.problems) and not self.quiesce_warned
        self.quiesce_warned = self.quiesce_warned or warn
        child = self.child if self._current(fact.generation) else None
        self._emit(
            "child_quiesced",
            level="warning" if warn else "info",
            pid=child.pid if child else None,
            paused=fact.paused,
            unread=fact.unread,
            took=round(fact.took, 3),
            problems=list(fact.problems),
        )
        then()

    def _stop_current(self, plan: Plan | None = None) -> None:
        child = self.child
        assert child is not None
        if plan is not None:
            self.plan = plan
        self._fire(Trigger.STOP)
        self._do(StopProbes())
        if self.down_since is None:
            self.down_since = self._now
        app = self.config.app
        self._emit(
            "child_stopping", pid=child.pid, signal=app.stop_signal.name, timeout=app.stop_timeout
        )
        self._do(StopTree(child.generation))

    def on_stopped(self, fact: Stopped) -> None:
        if fact.generation is None:
            self._stopped_everything()
            return
        if self._left_behind_stopped(fact):
            return
        if self.incoming is not None and fact.generation == self.incoming.generation:
            if self.incoming_cancelled:  # the only stop ever asked for an incoming child
                self._incoming_stopped(fact)
            return
        child = self.child
        if child is None or fact.generation != child.generation:
            return
        if self.state is ChildState.DRAINING:
            self._report_stopped(child, fact)
            self._handed_over()
        elif self.state is ChildState.STOPPING:
            self._fire(Trigger.STOPPED)
            self._report_stopped(child, fact)
            self._after_stop()
        elif self.state is ChildState.EXITED:
            self._swept(child, fact)

    def _report_stopped(self, child: ChildRecord, fact: Stopped) -> None:
        outcome = fact.outcome
        self._emit(
            "child_stopped",
            level="error" if outcome.survivors else "info",
            pid=child.pid,
            exit=fact.exit_text or "unknown",
            took=round(outcome.took, 3),
            processes=outcome.signalled,
            sigkilled=outcome.killed,
            survivors=outcome.survivors,
        )

    def _after_stop(self) -> None:
        plan, self.plan = self.plan, None
        if self.exiting or plan is None or plan.kind is Kill.SHUTDOWN:
            self._finish()
        elif plan.kind in (Kill.RESTART, Kill.HOLD):
            self._spawn()  # which holds instead, when the operator stopped the app
        else:  # a failed start or a tree over its cap: a death foretold, counted as one
            self._account(self.policy.on_failed_start(plan.reason, self._now))

    def _swept(self, child: ChildRecord, fact: Stopped) -> None:
        """The crashed child's orphans are gone: now the crash is counted."""
        self.plan = None
        self._report_orphans(fact.outcome)
        if self.exiting:
            self._finish()
            return
        self._account(self._counted_crash(child))

    def _report_orphans(self, outcome: StopOutcome) -> None:
        if outcome.signalled:
            self._emit(
                "orphans_stopped",
                level="warning",
                count=outcome.signalled,
                sigkilled=outcome.killed,
                survivors=outcome.survivors,
            )

    def _account(self, decision: Respawn | GiveUp) -> None:
        """What the crash count says: wait, start again, or give up."""
        if self.held is not None and not self.exiting:
            # Stopped by the operator meanwhile, as it was told: no respawn to schedule, and
            # no crash loop to give up on, since nothing is started again.
            self._fire(Trigger.WAIT)
            self._hold()
            return
        match decision:
            case GiveUp(reason):
                self._emit("crash_loop", level="error", reason=reason, action="exit")
                self._fire(Trigger.GIVE_UP)
                self._shutdown(EXIT_CRASH_LOOP)
            case Respawn(delay, crashes, crash_loop, reason):
                if crash_loop:
                    self._emit("crash_loop", level="error", reason=reason, action="keep_trying")
                self._fire(Trigger.WAIT)
                self._emit("restart_scheduled", delay=round(delay, 3), crashes=crashes)
                if self.exiting:
                    self._finish()
                elif delay <= 0:
                    self._spawn()  # a first crash: back at once, no wake-up in between
                else:
                    self.respawn_at = self._now + delay
