"""What operators ask: signals, `watchdog restart` (SIGUSR1/SIGUSR2), reloads (SIGHUP) and the
stop (SIGTERM/SIGINT), and the answers the commands that asked wait for."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from watchdog.core.bookkeeping import EXIT_OK, ControllerBase, FromNow, Kill, Plan
from watchdog.core.commands import (
    Answer,
    CancelSnapshot,
    Exit,
    ReadConfig,
    Reconfigure,
    StartProbes,
    StopProbes,
    StopTree,
)
from watchdog.core.decisions import Restart
from watchdog.core.facts import ConfigRead, Reconfigured, Signalled
from watchdog.core.lifecycle import ALIVE_STATES, ChildState, Trigger
from watchdog.core.steps.operator import START_SIGNAL, STOP_SIGNAL, USE_START

if TYPE_CHECKING:
    from watchdog.config import Config

STOPPING_REASON = "the watchdog is stopping"
APP_CHANGED = "config reloaded with a new app section"
RESTARTING_NOW = (
    ChildState.RESTARTING,
    ChildState.RELOADING,
    ChildState.HANDOVER,
    ChildState.DRAINING,
)


class RequestSteps(ControllerBase):
    def on_signalled(self, fact: Signalled) -> None:
        name = fact.name
        self._emit("signal_received", signal=name)
        if name in ("SIGTERM", "SIGINT"):
            self._shutdown(EXIT_OK)
        elif name == "SIGHUP":
            self._reload()
        elif name in ("SIGUSR1", "SIGUSR2"):
            child = self.child
            if child is not None and fact.at < child.started_at:
                # Sent before the current child started: a restart since has served it.
                self._do(Answer(name, "done", {"detail": "a restart since served it"}))
                return
            self._restart_on_request(f"requested by {name}", name == "SIGUSR1", name)
        elif name == STOP_SIGNAL:
            self._stop_requested()
        elif name == START_SIGNAL:
            self._start_requested()

    def _restart_on_request(
        self, reason: str, force: bool = True, requester: str | None = None
    ) -> None:
        """SIGUSR1 (`watchdog restart --force`) now; SIGUSR2 when the throttle allows.

        `requester` (a signal's name) gets its answer in the state file, and the final
        outcome once the restart is over; a reload answers for itself.
        """

        def answer(outcome: str, **detail: Any) -> None:
            if requester is not None:
                self._do(Answer(requester, outcome, detail))
                self.restart_awaited = outcome == "restarting"

        state = self.state
        if self.exiting:
            answer("ignored", detail=STOPPING_REASON)
        elif self.held is not None:
            answer("ignored", detail=USE_START)  # a reload's restart too: it stays down
        elif state in ALIVE_STATES:
            decisions = self.policy.restart_requested(reason, self._now, force)
            pending = self.policy.pending
            if decisions and isinstance(decisions[0], Restart):
                answer("restarting", detail=reason)
            elif pending is not None:
                at = FromNow(pending.at - self._now)
                answer("throttled", restart_at=at, detail=pending.reason)
            self._decide(decisions)
        elif state is ChildState.BACKOFF and force:
            answer("restarting", detail="the app was waiting to restart after a crash")
            self.respawn_at = None
            self._spawn()
        elif state is ChildState.BACKOFF and self.respawn_at is not None:
            # A crash's backoff is a throttle too: an unforced request does not cut it short.
            at = FromNow(self.respawn_at - self._now)
            answer("throttled", restart_at=at, detail="restarting after a crash", backoff=True)
        elif state in RESTARTING_NOW or (self.plan is not None and self.plan.kind is Kill.RESTART):
            answer("restarting", detail="a restart was already under way")
        else:
            answer("ignored", detail=f"the app is {state.value}")

    def _restart_for_a_changed_app(self) -> None:
        """A reload changed the app section during an overlap or a reload in place: the
        child that serves once it is over runs the old one, and is restarted now."""
        child = self.child
        if child is not None and child.app != self.config.app:
            self._restart_on_request(APP_CHANGED)

    def _restart_outcome(self, outcome: str, **detail: Any) -> None:
        """Tell the command that asked for a restart how it ended."""
        if self.restart_awaited:
            self.restart_awaited = False
            self._do(Answer(None, outcome, detail))

    # -- the stop ---------------------------------------------------------------------

    def _shutdown(self, code: int) -> None:
        if self.exiting:
            return
        self.exit_code = code
        self._emit("watchdog_stopping", state=self.state.value)
        self._restart_outcome("restart_cancelled", detail=STOPPING_REASON)
        state, plan = self.state, self.plan
        if state in ALIVE_STATES and self._socket_outlives_us():
            assert self.child is not None
            self._do(StopProbes())
            self._off_the_socket(self.child, then=self._stop_for_good)
        elif state in ALIVE_STATES or state is ChildState.RELOADING:
            self._stop_for_good()
        elif plan is not None and plan.ticket is not None:
            self._do(CancelSnapshot(plan.ticket))  # a stop does not wait out a snapshot
        elif state is ChildState.HANDOVER and not self.incoming_cancelled:
            self._cancel_incoming(STOPPING_REASON)
        elif state in (ChildState.STOPPED, ChildState.BACKOFF, ChildState.FATAL, ChildState.HELD):
            self._finish()
        # Otherwise a stop or a sweep is under way; when it ends, nothing new starts.

    def _socket_outlives_us(self) -> bool:
        """A socket systemd holds serves the next watchdog: what ours took must not drop."""
        listen = self.config.app.listen
        return listen is not None and listen.from_systemd

    def _stop_for_good(self) -> None:
        self._stop_current(Plan(Kill.SHUTDOWN, STOPPING_REASON))

    def _finish(self) -> None:
        """The last sweep: whatever is left of the app's processes, in any state, goes."""
        if self.finishing:
            return
        self.finishing = True
        if self.state in (ChildState.EXITED, ChildState.BACKOFF):
            self._fire(Trigger.STOP)
            self._fire(Trigger.STOPPED)
        # FATAL stays: the last state file says the watchdog gave up.
        self.respawn_at = None
        self._do(StopProbes(), StopTree(None))

    def _stopped_everything(self) -> None:
        self._emit("watchdog_stopped", exit_code=self.exit_code)
        self._do(Exit(self.exit_code or 0))

    # -- reload -----------------------------------------------------------------------

    def _reload(self) -> None:
        if self.exiting:
            return
        if self.reloading:
            self.reload_again = True  # read again once this one is done: the file changed
            return
        self.reloading = True
        self._do(ReadConfig())

    def on_config_read(self, fact: ConfigRead) -> None:
        if not self.reloading:
            return
        new: Config | None = fact.config  # type: ignore[assignment]
        if fact.errors or new is None:
            self._reload_failed(fact.errors)
        elif new.app.listen != self.config.app.listen:
            # The held socket is bound once; a command written for another one (its {fd},
            # a port) must not start against this one.
            self._reload_failed([listen_change(self.config.app.listen, new.app.listen)])
        elif new.app.listen is not None and new.app.listen_backlog != (
            was := self.config.app.listen_backlog
        ):
            # listen() took the backlog once: a reload that promised another would lie.
            wanted = new.app.listen_backlog
            self._reload_failed(
                [
                    f"app.listen_backlog: {wanted} differs from {was}, the backlog of the socket"
                    " the running watchdog holds; restart the watchdog to change it"
                ]
            )
        else:
            self.pending_config = new
            self._do(Reconfigure(new))

    def on_reconfigured(self, fact: Reconfigured) -> None:
        new, self.pending_config = self.pending_config, None
        if new is None:
            return
        if fact.errors:
            self._reload_failed(fact.errors)
            return
        old, self.config = self.config, new
        changed = [
            item.name
            for item in dataclasses.fields(new)
            if getattr(old, item.name) != getattr(new, item.name)
        ]
        self._emit("config_reloaded", changed=changed)
        self._do(Answer("SIGHUP", "reloaded", {"changed": changed}))
        self.policy.reconfigure(new.health, new.restart, new.resources)
        restart = new.restart
        self.planner.reconfigure(restart.max_uptime, restart.max_uptime_jitter, restart.window)
        self.baseline.reconfigure(new.resources.degradation)
        child = self.child
        probed = child is not None and self.state in ALIVE_STATES and self.held is None
        if new.health != old.health and probed:
            assert child is not None
            pace = new.health.interval if child.healthy else new.health.startup_interval
            self._do(StartProbes(child.generation, 0.0, pace))
        self._reload_done()
        # During a handover or a reload in place, the restart waits for its end (either
        # way): the child that serves then may still run the old command.
        waits = self.incoming is not None or self.state is ChildState.RELOADING
        if new.app != old.app and not waits:
            self._restart_on_request(APP_CHANGED)

    def _reload_failed(self, errors: tuple[str, ...] | list[str]) -> None:
        self._emit("reload_failed", level="error", errors=list(errors))
        self._do(Answer("SIGHUP", "reload_failed", {"errors": list(errors)}))
        self._reload_done()

    def _reload_done(self) -> None:
        self.reloading = False
        if self.reload_again:
            self.reload_again = False
            self._reload()


def listen_change(held: object, wanted: object) -> str:
    restart = "restart the watchdog to change it"
    if held is None:
        return f"app.listen: set to {wanted}, but the running watchdog holds no socket; {restart}"
    if wanted is None:
        return f"app.listen: removed, but the running watchdog holds {held}; {restart}"
    return f"app.listen: {wanted} differs from {held}, which the running watchdog holds; {restart}"
