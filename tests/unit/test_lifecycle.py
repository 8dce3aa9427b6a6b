"""The lifecycle table, checked against a matrix written out by hand."""

from __future__ import annotations

import pytest

from watchdog.core.lifecycle import (
    TRANSITIONS,
    ChildState,
    IllegalTransitionError,
    Lifecycle,
    Trigger,
    next_state,
)

# Every legal move, by state; every pair not written here must be refused.
EXPECTED = """
stopped:    spawn>starting wait>backoff give_up>fatal hold>stopped_by_operator
starting:   healthy>running exit>exited kill>restarting stop>stopping
running:    exit>exited kill>restarting stop>stopping
restarting: stop>stopping overlap>handover reload>reloading
reloading:  healthy>running reload_failed>restarting exit>exited stop>stopping
            kill>restarting
stopping:   stopped>stopped
handover:   accepted>draining fell_back>running fell_back_booting>starting exit>exited
            stop>stopping
draining:   handed_over>starting stop>stopping
exited:     wait>backoff give_up>fatal stop>stopping
backoff:    spawn>starting stop>stopping hold>stopped_by_operator
fatal:
stopped_by_operator: spawn>starting
"""


def _legal() -> dict[tuple[ChildState, Trigger], ChildState]:
    moves, state = {}, None
    for line in EXPECTED.strip().splitlines():
        head, _, rest = line.partition(":") if not line.startswith(" ") else ("", "", line)
        state = ChildState(head) if head else state
        for move in rest.split():
            trigger, target = move.split(">")
            moves[(state, Trigger(trigger))] = ChildState(target)
    return moves


def _matrix() -> list[tuple[ChildState, Trigger, ChildState | None]]:
    legal = _legal()
    return [(s, t, legal.get((s, t))) for s in ChildState for t in Trigger]


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


def test_the_table_is_exactly_the_written_moves() -> None:
    """Nothing in TRANSITIONS that is not written above, nothing written that is not there."""
    assert _legal() == TRANSITIONS


def test_an_illegal_trigger_names_what_is_allowed() -> None:
    lifecycle = Lifecycle()
    with pytest.raises(IllegalTransitionError, match="allowed: give_up, hold, spawn, wait"):
        lifecycle.fire(Trigger.HEALTHY)
    assert lifecycle.state is ChildState.STOPPED
