"""`watchdog stop` and `watchdog start`: the app down on purpose while the watchdog stays up.

Stopped by the operator, nothing of the restart rules applies (no probe, no planned
restart, no respawn after a crash) until the operator's start brings up a fresh child;
a reload or a restart request does not bring it back.
"""

from __future__ import annotations

from typing import Any

from watchdog.core.bookkeeping import ControllerBase, Kill, Plan
from watchdog.core.commands import Answer, StopProbes
from watchdog.core.lifecycle import ALIVE_STATES, ChildState, Trigger

# Real-time signals: the kernel and terminals never send them, so none arrives by accident.
STOP_SIGNAL = "SIGRTMIN+1"
START_SIGNAL = "SIGRTMIN+2"
STOPPED_BY_OPERATOR = "stopped by operator"
USE_START = f"{STOPPED_BY_OPERATOR}: use watchdog start"
BUSY = (
    ChildState.RESTARTING,
    ChildState.RELOADING,
    ChildState.HANDOVER,
    ChildState.DRAINING,
)


class OperatorSteps(ControllerBase):
    def _stop_requested(self) -> None:
        state, plan = self.state, self.plan

        def answer(outcome: str, detail: str) -> None:
            self._do(Answer(STOP_SIGNAL, outcome, {"detail": detail}))

        if self.exiting:
            answer("ignored", "the watchdog is stopping")
        elif state is ChildState.HELD or self.held is not None:
            answer("stopped" if state is ChildState.HELD else "stopping", USE_START)
        elif (
            state in BUSY
            or self.restart_awaited
            or (plan is not None and plan.kind is Kill.RESTART)
        ):
            # The restart's end decides which child serves; stopping that one is the next step.
            answer("busy", f"a restart is under way (the app is {state.value}); try again")
        elif state in ALIVE_STATES:
            child = self.child
            assert child is not None
            self.held = STOPPED_BY_OPERATOR
            self.hold_awaited = True
            answer("stopping", f"stopping pid {child.pid}")
            self._do(StopProbes())
            self.planner.child_gone()
            self.baseline.child_gone()
            self._off_the_socket(child, then=self._stop_held)
        elif state is ChildState.BACKOFF:
            self.held = STOPPED_BY_OPERATOR
            answer("stopped", "the app was waiting to restart after a crash; it stays stopped")
            self._hold()
        elif state in (ChildState.EXITED, ChildState.STOPPING):
            # A crash or a sick child's stop is being handled: what would start next does not.
            self.held = STOPPED_BY_OPERATOR
            self.hold_awaited = True
            answer("stopping", f"the app is {state.value}; it stays stopped once it is down")
        else:
            answer("ignored", f"the app is {state.value}")

    def _stop_held(self) -> None:
        """Off the held socket, the child is stopped, unless a crash (whose sweep holds the
        app) or the watchdog's own stop took over meanwhile: the child is no longer alive."""
        if self.state in ALIVE_STATES and not self.exiting:
            self._stop_current(Plan(Kill.HOLD, STOPPED_BY_OPERATOR))

    def _hold(self) -> None:
        """No child, and none until `watchdog start`: where a start was due, the app stays down."""
        self.respawn_at = None
        self.policy.stopped_by_operator()
        self._fire(Trigger.HOLD)
        self._emit("app_stopped_by_operator", previous_pid=self.child.pid if self.child else None)
        if self.hold_awaited:
            self.hold_awaited = False
            self._do(Answer(None, "stopped", {"detail": USE_START}))

    def _start_requested(self) -> None:
        def answer(outcome: str, **detail: Any) -> None:
            self._do(Answer(START_SIGNAL, outcome, detail))

        state = self.state
        if self.exiting:
            answer("ignored", detail="the watchdog is stopping")
        elif state is ChildState.HELD:
            self.held = None
            self.policy.started_by_operator()
            answer("starting", detail="a fresh child")
            self.restart_awaited = True  # its outcome: healthy, or why not
            self._emit("app_started_by_operator")
            self._spawn()
        elif self.held is not None:
            answer("busy", detail=f"the app is being stopped ({state.value}); try again")
        else:
            answer("not_stopped", detail=f"the app is {state.value}", state=state.value)
