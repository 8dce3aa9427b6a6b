"""The child's lifecycle as data: states, triggers and the one table of legal moves."""

from __future__ import annotations

from enum import Enum


class ChildState(Enum):
    STOPPED = "stopped"  # no child; nothing scheduled
    STARTING = "starting"  # spawned, not yet answered healthy
    RUNNING = "running"  # answered healthy at least once since it started
    STOPPING = "stopping"  # its tree is being terminated
    EXITED = "exited"  # died by itself; deciding what comes next
    BACKOFF = "backoff"  # waiting out a delay before the next start
    FATAL = "fatal"  # given up: crash loop


class Trigger(Enum):
    SPAWN = "spawn"
    HEALTHY = "healthy"
    EXIT = "exit"
    STOP = "stop"
    STOPPED = "stopped"
    WAIT = "wait"
    GIVE_UP = "give_up"


S, T = ChildState, Trigger

TRANSITIONS: dict[tuple[ChildState, Trigger], ChildState] = {
    (S.STOPPED, T.SPAWN): S.STARTING,
    (S.STOPPED, T.WAIT): S.BACKOFF,  # a child that never became healthy was stopped
    (S.STOPPED, T.GIVE_UP): S.FATAL,
    (S.STARTING, T.HEALTHY): S.RUNNING,
    (S.STARTING, T.EXIT): S.EXITED,
    (S.STARTING, T.STOP): S.STOPPING,
    (S.RUNNING, T.EXIT): S.EXITED,
    (S.RUNNING, T.STOP): S.STOPPING,
    (S.STOPPING, T.STOPPED): S.STOPPED,
    (S.EXITED, T.WAIT): S.BACKOFF,
    (S.EXITED, T.GIVE_UP): S.FATAL,
    (S.EXITED, T.STOP): S.STOPPING,  # shutting down while a crash is handled
    (S.BACKOFF, T.SPAWN): S.STARTING,
    (S.BACKOFF, T.STOP): S.STOPPING,
}

ALIVE_STATES = frozenset({S.STARTING, S.RUNNING})


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
    """The current state of the one child, moved only through the table."""

    def __init__(self) -> None:
        self.state = ChildState.STOPPED

    def fire(self, trigger: Trigger) -> ChildState:
        self.state = next_state(self.state, trigger)
        return self.state
