"""The app's lifecycle as data: states, triggers and the one table of legal moves.

An overlap restart has two children at once: HANDOVER while the new one boots beside the
serving one, DRAINING while the old one stops and the new one already serves.
"""

from __future__ import annotations

from enum import Enum


class ChildState(Enum):
    STOPPED = "stopped"  # no child; nothing scheduled
    STARTING = "starting"  # spawned, not yet answered healthy
    RUNNING = "running"  # answered healthy at least once since it started
    RESTARTING = "restarting"  # a kill is decided: its diagnostic snapshot is being taken
    RELOADING = "reloading"  # restart.method signal: its master replaces its own workers
    STOPPING = "stopping"  # its tree is being terminated
    HANDOVER = "handover"  # overlap: a new child boots while the old one serves
    DRAINING = "draining"  # overlap: the new child serves while the old one stops
    EXITED = "exited"  # died by itself; deciding what comes next
    BACKOFF = "backoff"  # waiting out a delay before the next start
    FATAL = "fatal"  # given up: crash loop
    HELD = "stopped_by_operator"  # `watchdog stop`: no child, nothing starts until `start`


class Trigger(Enum):
    SPAWN = "spawn"
    HEALTHY = "healthy"
    EXIT = "exit"
    KILL = "kill"
    STOP = "stop"
    STOPPED = "stopped"
    OVERLAP = "overlap"
    ACCEPTED = "accepted"
    FELL_BACK = "fell_back"
    FELL_BACK_BOOTING = "fell_back_booting"
    HANDED_OVER = "handed_over"
    WAIT = "wait"
    GIVE_UP = "give_up"
    RELOAD = "reload"
    RELOAD_FAILED = "reload_failed"
    HOLD = "hold"


S, T = ChildState, Trigger

TRANSITIONS: dict[tuple[ChildState, Trigger], ChildState] = {
    (S.STOPPED, T.SPAWN): S.STARTING,
    (S.STOPPED, T.WAIT): S.BACKOFF,  # a killed child counts as a crash: backoff next
    (S.STOPPED, T.GIVE_UP): S.FATAL,
    (S.STOPPED, T.HOLD): S.HELD,  # the operator's stop is done
    (S.STARTING, T.HEALTHY): S.RUNNING,
    (S.STARTING, T.EXIT): S.EXITED,
    (S.STARTING, T.KILL): S.RESTARTING,
    (S.STARTING, T.STOP): S.STOPPING,
    (S.RUNNING, T.EXIT): S.EXITED,
    (S.RUNNING, T.KILL): S.RESTARTING,
    (S.RUNNING, T.STOP): S.STOPPING,
    (S.RESTARTING, T.STOP): S.STOPPING,
    (S.RESTARTING, T.OVERLAP): S.HANDOVER,
    (S.RESTARTING, T.RELOAD): S.RELOADING,
    (S.RELOADING, T.HEALTHY): S.RUNNING,  # new workers answered: reloaded in place
    (S.RELOADING, T.RELOAD_FAILED): S.RESTARTING,  # not confirmed: the configured strategy
    (S.RELOADING, T.EXIT): S.EXITED,
    (S.RELOADING, T.KILL): S.RESTARTING,  # its new workers over the hard cap
    (S.RELOADING, T.STOP): S.STOPPING,
    (S.HANDOVER, T.ACCEPTED): S.DRAINING,
    (S.HANDOVER, T.FELL_BACK): S.RUNNING,  # the new child never served: the old one does
    (S.HANDOVER, T.FELL_BACK_BOOTING): S.STARTING,  # ... and the old one had not yet answered
    (S.HANDOVER, T.EXIT): S.EXITED,  # neither serves: the old one died meanwhile
    (S.HANDOVER, T.STOP): S.STOPPING,
    (S.DRAINING, T.HANDED_OVER): S.STARTING,  # the new child is the one probed from now
    (S.DRAINING, T.STOP): S.STOPPING,
    (S.STOPPING, T.STOPPED): S.STOPPED,
    (S.EXITED, T.WAIT): S.BACKOFF,
    (S.EXITED, T.GIVE_UP): S.FATAL,
    (S.EXITED, T.STOP): S.STOPPING,  # shutting down while a crash is handled
    (S.BACKOFF, T.SPAWN): S.STARTING,
    (S.BACKOFF, T.STOP): S.STOPPING,
    (S.BACKOFF, T.HOLD): S.HELD,  # stopped while waiting after a crash: the wait is cancelled
    (S.HELD, T.SPAWN): S.STARTING,  # `watchdog start`: a fresh child
}

ALIVE_STATES = frozenset({S.STARTING, S.RUNNING})  # a child whose probes and samples count
SERVING_STATES = frozenset({S.RUNNING, S.RESTARTING, S.RELOADING, S.HANDOVER, S.DRAINING})


class IllegalTransitionError(RuntimeError):
    """A trigger that the current state does not accept: a bug, never a user error."""

    def __init__(self, state: ChildState, trigger: Trigger) -> None:
        allowed = sorted(t.value for (s, t) in TRANSITIONS if s is state)
        super().__init__(
            f"{trigger.value!r} is not allowed in state {state.value!r}"
            f" (allowed: {', '.join(allowed) or 'nothing'})"
        )


def next_state(state: ChildState, trigger: Trigger) -> ChildState:
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalTransitionError(state, trigger) from None


class Lifecycle:
    """The current state, moved only through the table."""

    def __init__(self) -> None:
        self.state = ChildState.STOPPED

    def fire(self, trigger: Trigger) -> ChildState:
        self.state = next_state(self.state, trigger)
        return self.state
