"""Scripted histories of reloading in place: the master replaces its workers on a signal."""

from __future__ import annotations

import itertools
from typing import Any

from tests.unit.histories import Run, answers, config, failed, probes, stops
from tests.unit.test_controller_resources import sample
from watchdog.core.bookkeeping import ControllerBase
from watchdog.core.commands import ReloadInPlace, StartProbes, StopTree
from watchdog.core.controller import Controller
from watchdog.core.facts import (
    CapCrossed,
    ConfigRead,
    NotReloaded,
    Reconfigured,
    Sampled,
    Signalled,
    TimerFired,
    WorkersReplaced,
)
from watchdog.core.lifecycle import ChildState
from watchdog.core.steps.children import ChildSteps
from watchdog.core.steps.kills import KillSteps
from watchdog.core.steps.overlap import OverlapSteps
from watchdog.core.steps.reload import ReloadSteps
from watchdog.core.steps.requests import APP_CHANGED, RequestSteps


def in_place() -> Run:
    run = Run(config(restart={"method": "signal"}))
    run.start()
    return run


def test_a_restart_is_the_reload_signal_then_new_workers_then_a_healthy_answer() -> None:
    run = in_place()
    said = run.feed(1.0, Signalled("SIGUSR1", 1.0))
    assert ReloadInPlace(1, "SIGHUP", 10.0) in said
    assert stops(said) == []
    assert run.state is ChildState.RELOADING
    said = run.feed(1.5, WorkersReplaced(1, (201, 202), (203, 204), 1.5))
    reloaded = run.event("child_reloaded", said)
    assert reloaded["workers_after"] == [203, 204]
    assert reloaded["took"] == 0.5  # from the signal to the new workers
    assert probes(said) == [StartProbes(1, 0.0, 0.1)]
    said = run.probe(1.6)
    assert run.event("child_healthy", said)["pid"] == 101  # the same master
    assert answers(said) == [(None, "restarted")]
    assert run.state is ChildState.RUNNING
    assert "child_stopping" not in run.events()


def test_no_new_workers_in_time_falls_back_to_the_configured_restart() -> None:
    run = in_place()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    said = run.feed(11.0, NotReloaded(1, "no new workers within 10s", 11.0))
    unconfirmed = run.event("child_reload_unconfirmed", said)
    assert unconfirmed["action"] == "restarting it the stop_start way"
    assert stops(said) == [StopTree(1)]
    said = run.stopped(11.2)
    assert "child_started" in run.events(said)


def test_new_workers_that_never_answer_fall_back_too() -> None:
    run = in_place()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    run.feed(1.5, WorkersReplaced(1, (201,), (202,), 1.5))
    run.probe(2.0, failed(2.0))
    said = run.feed(11.5, TimerFired(11.5))  # the startup window, from the new workers
    assert run.event("child_reload_unconfirmed", said)["reason"].startswith(
        "its new workers were not healthy within startup_timeout"
    )
    assert stops(said) == [StopTree(1)]


def test_the_master_dying_of_the_signal_is_a_crash() -> None:
    run = in_place()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    said = run.exit(1.1)
    assert run.state is ChildState.EXITED
    assert "child_exited" in run.events(said)


def test_a_new_app_section_is_a_real_restart_even_with_method_signal() -> None:
    from watchdog.core.facts import ConfigRead, Reconfigured

    run = in_place()
    run.feed(1.0, Signalled("SIGHUP", 1.0))
    new = config(restart={"method": "signal"}, app={"stop_timeout": "3s"})
    run.feed(1.01, ConfigRead(new, (), 1.01))
    said = run.feed(1.02, Reconfigured((), 1.02))
    assert stops(said) == [StopTree(1)]
    assert run.of(ReloadInPlace) == []


def test_a_stop_while_reloading_stops_the_app() -> None:
    run = in_place()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    said = run.feed(1.1, Signalled("SIGTERM", 1.1))
    assert stops(said) == [StopTree(1)]


def test_no_step_is_defined_by_two_mixins() -> None:
    """A name two mixins both define would silently take one of them (as happened once)."""
    mixins = Controller.__bases__
    assert {ChildSteps, KillSteps, OverlapSteps, ReloadSteps, RequestSteps} <= set(mixins)
    base = set(vars(ControllerBase))
    for one, other in itertools.combinations(mixins, 2):
        shared = (set(vars(one)) & set(vars(other))) - base
        shared = {name for name in shared if not name.startswith("__")}
        assert not shared, (one.__name__, other.__name__, shared)


def test_a_hard_cap_crossed_while_the_new_workers_boot_stops_the_app() -> None:
    """Confirmed new workers are watched like a new child: over max_rss is a stop, and
    the reload is not left waiting for an answer that would never count."""
    run = Run(config(restart={"method": "signal"}, resources={"memory": {"max_rss": "150MB"}}))
    run.start()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    run.feed(1.5, WorkersReplaced(1, (201,), (202,), 1.5))
    said = run.feed(1.6, Sampled(sample(1.6, 200)))
    assert run.event("restart_triggered", said)["reason"].startswith("memory over its cap")
    assert stops(said) == [StopTree(1)]
    run.stopped(1.8)
    assert run.state is ChildState.STARTING  # a new child, counted like a crash's


def test_the_quick_cap_check_counts_once_the_new_workers_are_there() -> None:
    run = Run(config(restart={"method": "signal"}, resources={"memory": {"max_rss": "150MB"}}))
    run.start()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    run.feed(1.5, WorkersReplaced(1, (201,), (202,), 1.5))
    said = run.feed(1.6, CapCrossed(1, 200 * 2**20, 1.6))
    assert run.event("restart_triggered", said)["reason"].startswith("memory over its cap")
    assert stops(said) == [StopTree(1)]


def _new_app_section(run: Run, at: float, **sections: dict[str, Any]) -> None:
    run.feed(at, Signalled("SIGHUP", at))
    new = config(restart={"method": "signal"}, app={"stop_timeout": "3s"}, **sections)
    run.feed(at, ConfigRead(new, (), at))
    run.feed(at, Reconfigured((), at))


def test_a_new_app_section_read_while_reloading_restarts_the_app_once_reloaded() -> None:
    """The master reloaded in place still runs the old command line: the new one needs a
    new process, as it would have got had the reload come a moment earlier."""
    run = in_place()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    _new_app_section(run, 1.2)
    assert stops(run.commands) == []
    run.feed(1.5, WorkersReplaced(1, (201,), (202,), 1.5))
    said = run.probe(1.6)
    assert run.event("restart_triggered", said)["reason"] == APP_CHANGED
    assert stops(said) == [StopTree(1)]
    run.stopped(1.8)
    assert run.generation == 2


def test_a_new_app_section_read_during_the_snapshot_is_no_reload_in_place() -> None:
    run = Run(config(restart={"method": "signal"}, diagnostics={"enabled": True}))
    run.start()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    assert run.state is ChildState.RESTARTING  # its snapshot is being taken
    _new_app_section(run, 1.1, diagnostics={"enabled": True})
    said = run.snapshot(1.2)
    assert run.of(ReloadInPlace) == []
    assert stops(said) == [StopTree(1)]
