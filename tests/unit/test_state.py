"""The lifecycle table, checked against a matrix written out by hand."""

from __future__ import annotations

import pytest

from watchdog.state import (
    TRANSITIONS,
    ChildState,
    IllegalTransitionError,
    Lifecycle,
    Trigger,
    next_state,
)

# Rows: states; columns: spawn healthy exit stop stopped wait give_up; "-" = illegal.
EXPECTED = """
stopped   starting  -        -       -         -        backoff  fatal
starting  -         running  exited  stopping  -        -        -
running   -         -        exited  stopping  -        -        -
stopping  -         -        -       -         stopped  -        -
exited    -         -        -       stopping  -        backoff  fatal
backoff   starting  -        -       stopping  -        -        -
fatal     -         -        -       -         -        -        -
"""
COLUMNS = [
    Trigger.SPAWN,
    Trigger.HEALTHY,
    Trigger.EXIT,
    Trigger.STOP,
    Trigger.STOPPED,
    Trigger.WAIT,
    Trigger.GIVE_UP,
]


def _matrix() -> list[tuple[ChildState, Trigger, ChildState | None]]:
    cases = []
    for row in EXPECTED.strip().splitlines():
        state, *cells = row.split()
        for trigger, cell in zip(COLUMNS, cells, strict=True):
            cases.append((ChildState(state), trigger, None if cell == "-" else ChildState(cell)))
    return cases


@pytest.mark.parametrize(("state", "trigger", "expected"), _matrix())
def test_every_state_and_trigger(
    state: ChildState, trigger: Trigger, expected: ChildState | None
) -> None:
    """Each (state, trigger) pair either moves where the matrix says or is refused."""
    if expected is None:
        with pytest.raises(IllegalTransitionError, match=trigger.value):
            next_state(state, trigger)
    else:
        assert next_state(state, trigger) is expected


def test_matrix_covers_every_pair() -> None:
    """The hand-written matrix names every state and trigger, so none is forgotten."""
    assert len(_matrix()) == len(ChildState) * len(Trigger)
    assert {(s, t) for s, t, e in _matrix() if e is not None} == set(TRANSITIONS)


def test_shutdown_reachable_from_every_live_state() -> None:
    """From every state but FATAL, stopping leads to STOPPED in at most two moves."""
    for state in ChildState:
        if state in (ChildState.FATAL, ChildState.STOPPED):
            continue
        moved = next_state(state, Trigger.STOP) if state is not ChildState.STOPPING else state
        assert next_state(moved, Trigger.STOPPED) is ChildState.STOPPED


def test_lifecycle_story() -> None:
    """A crash, a backoff and a healthy restart walk the table in order."""
    lifecycle = Lifecycle()
    story = [
        Trigger.SPAWN,
        Trigger.HEALTHY,
        Trigger.EXIT,
        Trigger.WAIT,
        Trigger.SPAWN,
        Trigger.HEALTHY,
    ]
    states = [lifecycle.fire(trigger) for trigger in story]
    assert states[-1] is ChildState.RUNNING
    assert ChildState.BACKOFF in states


def test_illegal_message_lists_allowed() -> None:
    """The error names the current state and what it would accept."""
    with pytest.raises(IllegalTransitionError, match=r"'running'.*exit, stop"):
        next_state(ChildState.RUNNING, Trigger.SPAWN)
