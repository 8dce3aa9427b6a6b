"""Reload in place: for an app whose master replaces its own workers on a signal (gunicorn on
HUP starts new workers and drains the old ones, with no gap on the socket), a restart is
that signal instead of a stop.

It is confirmed, not assumed: new worker pids under the same master and none of the old
ones left, then a healthy answer, within health.startup_timeout. What cannot be confirmed
falls back to the configured restart (stop_start or overlap), and says so.
"""

from __future__ import annotations

from watchdog.core.bookkeeping import ControllerBase
from watchdog.core.commands import ReloadInPlace, StartProbes
from watchdog.core.facts import NotReloaded, WorkersReplaced
from watchdog.core.lifecycle import ChildState, Trigger


class ReloadSteps(ControllerBase):
    def _reloads_in_place(self) -> bool:
        """A config with a new app section needs a new command line: never in place."""
        child = self.child
        return (
            self.config.restart.method == "signal"
            and child is not None
            and child.app == self.config.app
        )

    def _reload_in_place(self) -> None:
        child = self.child
        assert child is not None
        signal = self.config.restart.reload_signal.name
        self._fire(Trigger.RELOAD)
        self.reload_confirmed = False
        self.reload_sent_at = self._now
        self._emit("child_reloading", pid=child.pid, signal=signal)
        timeout = self.config.health.startup_timeout
        self._do(ReloadInPlace(child.generation, signal, timeout))

    def on_workers_replaced(self, fact: WorkersReplaced) -> None:
        if not self._current(fact.generation) or self.state is not ChildState.RELOADING:
            return
        child = self.child
        assert child is not None
        self._emit(
            "child_reloaded",
            pid=child.pid,
            workers_before=list(fact.before),
            workers_after=list(fact.after),
            took=round(max(0.0, fact.at - self.reload_sent_at), 3),
        )
        # New workers, a fresh start for every detector: confirmed by a healthy answer.
        self.reload_confirmed = True
        child.healthy = False
        self.policy.child_started(fact.at)
        self.planner.child_started(fact.at, child.lot)
        self._workers_renewed()
        self._do(StartProbes(child.generation, 0.0, self.config.health.startup_interval))

    def on_not_reloaded(self, fact: NotReloaded) -> None:
        if self._current(fact.generation) and self.state is ChildState.RELOADING:
            self._in_place_failed(fact.reason)

    def _in_place_failed(self, reason: str) -> None:
        """Not confirmed: the restart goes on the configured way, and says so."""
        strategy = self.config.restart.strategy
        self._emit(
            "child_reload_unconfirmed",
            level="warning",
            reason=reason,
            action=f"restarting it the {strategy} way",
        )
        self._fire(Trigger.RELOAD_FAILED)
        self.reload_confirmed = False
        self._restart_the_configured_way()
