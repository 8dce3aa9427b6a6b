"""Grading, transitions logged once, sustain timers, and the error-rate window."""

from __future__ import annotations

import pytest

from watchdog.core.rules.levels import (
    ErrorRate,
    Level,
    LevelChanged,
    MetricLevel,
    SustainedCritical,
    grade,
)


def metric(sustain: float | None = 60.0) -> MetricLevel:
    return MetricLevel("memory", 80, 90, sustain, lambda level, value: f"{level.label} {value}")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, Level.NORMAL),
        (79.9, Level.NORMAL),
        (80, Level.WARNING),
        (89.9, Level.WARNING),
        (90, Level.CRITICAL),
        (100, Level.CRITICAL),
    ],
)
def test_grade_boundaries(value: float, expected: Level) -> None:
    """Warning starts at the warning figure, critical at the critical figure."""
    assert grade(value, 80, 90) is expected


def test_transitions_are_reported_once() -> None:
    """Staying in a level says nothing; each change of level is one event."""
    tracker = metric()
    changes = [tracker.observe(value, now) for now, value in enumerate([50, 85, 86, 87, 50, 51])]
    flat = [c for step in changes for c in step]
    assert [(c.old, c.new) for c in flat] == [
        (Level.NORMAL, Level.WARNING),
        (Level.WARNING, Level.NORMAL),
    ]
    assert flat[0].message == "warning 85"


def test_critical_that_lasts_trips_once() -> None:
    """Critical for the whole sustain time trips once, not again while it stays critical."""
    tracker = metric(sustain=60)
    assert isinstance(tracker.observe(95, 0)[0], LevelChanged)
    assert tracker.observe(95, 59) == []
    [tripped] = tracker.observe(96, 60)
    assert isinstance(tripped, SustainedCritical)
    assert tripped.reason.startswith("memory critical for 60s")
    assert tracker.observe(97, 120) == []


def test_dip_below_critical_restarts_the_timer() -> None:
    """A sample below critical in between means the state did not last."""
    tracker = metric(sustain=60)
    tracker.observe(95, 0)
    tracker.observe(85, 30)
    tracker.observe(95, 40)
    assert tracker.observe(95, 99) == []
    assert isinstance(tracker.observe(95, 100)[-1], SustainedCritical)


def test_not_counting_never_starts_the_timer() -> None:
    """Samples of a child still starting are graded but never trip a restart."""
    tracker = metric(sustain=10)
    for now in range(0, 100, 5):
        assert not any(isinstance(c, SustainedCritical) for c in tracker.observe(99, now, False))
    assert tracker.level is Level.CRITICAL


def test_start_afresh_forgets_the_timer_and_the_level() -> None:
    """A new child: nothing measured, normal, and a sustain time of its own; its first
    critical value is a transition of its own."""
    tracker = metric(sustain=60)
    tracker.observe(95, 0)
    tracker.start_afresh()
    assert (tracker.level, tracker.value) == (Level.NORMAL, None)
    [change] = tracker.observe(95, 1)
    assert (change.old, change.new) == (Level.NORMAL, Level.CRITICAL)
    assert tracker.observe(95, 60) == []
    assert isinstance(tracker.observe(95, 61)[-1], SustainedCritical)


def test_a_new_childs_first_normal_value_closes_the_old_warning() -> None:
    """The log said warning for the old child: the new one's normal value says so back."""
    tracker = metric()
    tracker.observe(85, 0)
    tracker.start_afresh()
    tracker.start_afresh()  # a start that measured nothing: the warning is still open
    [change] = tracker.observe(50, 1)
    assert (change.old, change.new, change.message) == (Level.WARNING, Level.NORMAL, "normal 50")
    assert tracker.observe(50, 2) == []


def test_a_fresh_start_after_normal_values_says_nothing_until_a_change() -> None:
    """Nothing to close, nothing to say: a normal first value is no transition."""
    tracker = metric()
    tracker.observe(50, 0)
    tracker.start_afresh()
    assert tracker.observe(60, 1) == []
    assert tracker.value == 60


def test_no_sustain_never_trips() -> None:
    """A context-only metric (host, disk) has no sustain and never asks for a restart."""
    tracker = metric(sustain=None)
    assert all(
        not isinstance(c, SustainedCritical)
        for now in range(0, 10_000, 100)
        for c in tracker.observe(99, now)
    )


def test_error_rate_waits_for_enough_probes_and_slides() -> None:
    """No rate before min_probes; then failures over the last window."""
    rate = ErrorRate(window=4, min_probes=3)
    assert rate.add(False) is None
    assert rate.add(True) is None
    assert rate.add(True) == pytest.approx(100 / 3)
    assert rate.add(True) == 25.0
    assert rate.add(True) == 0.0  # the failure slid out of the window
    rate.clear()
    assert rate.add(False) is None
