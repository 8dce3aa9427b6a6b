"""Scripted histories of planned restarts: max_uptime, its spread, the daily window."""

from __future__ import annotations

import pytest

from tests.unit.histories import Run, config, stops
from watchdog.core.commands import StopTree, TakeSnapshot, WakeAt
from watchdog.core.facts import ConfigRead, Reconfigured, Signalled, TimerFired
from watchdog.core.lifecycle import ChildState
from watchdog.core.rules.planned import DailyWindow, daily_window

HOUR = 3600.0


def planned(**restart: object) -> Run:
    run = Run(config(restart={"min_interval": "1m", **restart}, diagnostics={"enabled": True}))
    run.start()
    return run


def test_a_child_that_reached_max_uptime_is_restarted_without_a_snapshot() -> None:
    run = planned(max_uptime="24h")
    assert WakeAt(24 * HOUR) in run.commands
    said = run.feed(24 * HOUR, TimerFired(24 * HOUR, time_of_day=12 * HOUR))
    assert run.events(said)[:2] == ["restart_planned", "restart_triggered"]
    assert run.event("restart_planned", said)["reason"] == (
        "planned: uptime 24h \u2265 max_uptime 24h"
    )
    assert run.of(TakeSnapshot, said) == []  # nothing is wrong with it
    assert stops(said) == [StopTree(1)]


def test_the_spread_puts_each_child_somewhere_in_the_jitter() -> None:
    run = Run(config(restart={"max_uptime": "24h", "max_uptime_jitter": "2h"}))
    run.lot = 0.25
    run.start()
    assert WakeAt(24 * HOUR + 0.5 * HOUR) in run.commands
    said = run.feed(24.5 * HOUR, TimerFired(24.5 * HOUR, time_of_day=0.0))
    assert run.event("restart_planned", said)["reason"].startswith("planned: uptime 24h30m")


def test_a_due_restart_waits_for_the_window_then_happens_at_its_start() -> None:
    run = planned(max_uptime="24h", window="03:00-05:00")
    said = run.feed(24 * HOUR, TimerFired(24 * HOUR, time_of_day=1 * HOUR))  # 01:00
    assert "restart_planned" not in run.events(said)
    assert WakeAt(24 * HOUR + 2 * HOUR) in said  # 03:00
    view = run.controller.view()["planned_restart"]
    assert view["window"] == "03:00-05:00"
    assert view["at"].seconds == pytest.approx(2 * HOUR)
    said = run.feed(26 * HOUR, TimerFired(26 * HOUR, time_of_day=3 * HOUR))
    assert "restart_planned" in run.events(said)


def test_a_window_across_midnight() -> None:
    window = daily_window("23:00-01:00")
    assert window.wait(23.5 * HOUR) == 0
    assert window.wait(0.5 * HOUR) == 0
    assert window.wait(1 * HOUR) == pytest.approx(22 * HOUR)
    assert window.wait(22 * HOUR) == pytest.approx(1 * HOUR)
    assert str(window) == "23:00-01:00"


@pytest.mark.parametrize("text", ["3-5", "03:00", "24:00-01:00", "03:00-03:00", "03:0-05:00"])
def test_a_window_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - converters raise bare ValueError
        daily_window(text)


def test_a_planned_restart_within_the_throttle_is_recommended_then_done() -> None:
    run = planned(max_uptime="2m", min_interval="10m")
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    run.snapshot(1.1)  # an operator's restart takes one
    run.stopped(1.2)
    run.probe(1.3)  # the new child, healthy at 1.3; the throttle runs until 601
    said = run.feed(121.2, TimerFired(121.2, time_of_day=0.0))
    assert run.events(said) == ["restart_planned", "RESTART_RECOMMENDED"]
    assert run.state is ChildState.RUNNING
    said = run.feed(601.0, TimerFired(601.0, time_of_day=0.0))
    assert "restart_triggered" in run.events(said)
    assert run.of(TakeSnapshot, said) == []
    assert run.events().count("restart_planned") == 1  # said once, not at every wake-up


def test_no_planned_restart_without_max_uptime_and_none_shown() -> None:
    run = planned()
    assert run.controller.view()["planned_restart"] is None
    assert run.events(run.feed(10 * 24 * HOUR, TimerFired(10 * 24 * HOUR))) == []


def test_a_reload_that_sets_max_uptime_plans_the_running_child() -> None:
    run = planned()
    run.feed(HOUR, Signalled("SIGHUP", HOUR))
    new = config(restart={"min_interval": "1m", "max_uptime": "2h"}, diagnostics={"enabled": True})
    run.feed(HOUR, ConfigRead(new, (), HOUR))
    said = run.feed(HOUR, Reconfigured((), HOUR))
    assert WakeAt(2 * HOUR) in said  # counted from the child's own start, at 0
    said = run.feed(2 * HOUR, TimerFired(2 * HOUR, time_of_day=0.0))
    assert "restart_planned" in run.events(said)


def test_the_window_is_shown_as_written() -> None:
    assert str(DailyWindow(3 * HOUR, 5 * HOUR)) == "03:00-05:00"


def test_a_reload_does_not_announce_a_throttled_planned_restart_again() -> None:
    run = planned(max_uptime="2m", min_interval="10m")
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    run.snapshot(1.1)
    run.stopped(1.2)
    run.probe(1.3)
    run.feed(121.2, TimerFired(121.2, time_of_day=0.0))  # due, and throttled until 601
    run.feed(200.0, Signalled("SIGHUP", 200.0))
    same = config(
        restart={"min_interval": "10m", "max_uptime": "2m"}, diagnostics={"enabled": True}
    )
    run.feed(200.0, ConfigRead(same, (), 200.0))
    run.feed(200.0, Reconfigured((), 200.0))
    run.feed(201.0, TimerFired(201.0, time_of_day=0.0))
    assert run.events().count("restart_planned") == 1
    assert "restart_triggered" in run.events(run.feed(601.0, TimerFired(601.0, time_of_day=0.0)))


def test_status_shows_the_window_opening_a_restart_due_outside_it_waits_for() -> None:
    """Due at 14:00 tomorrow, with a window at 03:00-05:00: it will happen at 03:00 after."""
    run = planned(max_uptime="24h", window="03:00-05:00")
    run.feed(1.0, TimerFired(1.0, time_of_day=14 * HOUR))
    view = run.controller.view()["planned_restart"]
    assert view["at"].seconds == pytest.approx(37 * HOUR)  # 14:00 + 24h, then 13h to 03:00
    run.feed(2.0, TimerFired(2.0, time_of_day=14 * HOUR + 1))
    assert run.controller.view()["planned_restart"]["at"].seconds == pytest.approx(37 * HOUR - 1)
