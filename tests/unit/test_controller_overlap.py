"""Scripted histories of the overlap restart: two children on one held socket."""

from __future__ import annotations

from tests.unit.histories import Run, config, failed, probes, stops
from watchdog.core.commands import Spawn, StartProbes, StopAccepting, StopTree, WatchAccepting
from watchdog.core.facts import (
    Accepting,
    CapCrossed,
    Exited,
    NotAccepting,
    Signalled,
    StoppedAccepting,
)
from watchdog.core.lifecycle import ChildState
from watchdog.core.observations import ChildExit


def overlapping() -> Run:
    run = Run(config(app={"listen": "127.0.0.1:8000"}, restart={"strategy": "overlap"}))
    run.start()
    return run


def _restart(run: Run, at: float = 1.0) -> list:
    return run.feed(at, Signalled("SIGUSR1", at))


def test_the_new_child_accepts_then_the_old_one_drains() -> None:
    run = overlapping()
    said = _restart(run)
    assert Spawn(2, overlap=True) in said
    assert WatchAccepting(2, 10.0) in said
    assert run.event("child_started", said) | {"command": ""} == {
        "pid": 102,
        "previous_pid": 101,
        "strategy": "overlap",
        "command": "",
    }
    assert stops(said) == []  # the old child serves on
    assert run.state is ChildState.HANDOVER
    said = run.feed(1.3, Accepting(2, 1.3))
    assert run.event("child_accepting", said) == {"pid": 102, "after": 0.3}
    assert StopAccepting(1) in said  # the old child first takes no new connection
    assert stops(said) == []
    assert run.state is ChildState.DRAINING
    said = run.feed(1.35, StoppedAccepting(1, paused=1, unread=0, took=0.05))
    assert run.events(said) == ["child_quiesced", "child_stopping"]
    assert stops(said) == [StopTree(1, spare=2)]
    said = run.stopped(1.8, generation=1)
    assert run.events(said) == ["child_stopped"]
    assert probes(said) == [StartProbes(2, 0.0, 0.1)]
    assert run.state is ChildState.STARTING
    said = run.probe(1.9)
    assert run.event("child_healthy", said)["downtime"] is None  # the socket never went unserved


def test_a_new_child_that_never_accepts_is_stopped_and_the_old_one_serves_on() -> None:
    run = overlapping()
    _restart(run)
    reason = "the new child was not accepting connections within health.startup_timeout (10s)"
    said = run.feed(11.0, NotAccepting(2, reason, 11.0))
    assert run.event("child_stopping", said)["pid"] == 102
    assert stops(said) == [StopTree(2, spare=1)]
    said = run.stopped(11.2, generation=2)
    assert run.events(said) == ["child_stopped", "restart_failed"]
    failure = run.event("restart_failed", said)
    assert failure["serving_pid"] == 101
    assert failure["action"] == "the old child keeps serving"
    assert probes(said) == [StartProbes(1, 0.0, 1.0)]
    assert run.state is ChildState.RUNNING
    # Watched as before: its own failures restart it (throttled: the attempt counted).
    for at in (12.0, 13.0, 14.0):
        run.probe(at, failed(at))
    assert "RESTART_RECOMMENDED" in run.events()


def test_a_new_child_crashing_at_boot_is_a_failed_restart_not_a_crash() -> None:
    run = overlapping()
    _restart(run)
    run.feed(1.2, Exited(2, ChildExit(102, 1, None, 1.2), "exit code 1"))
    reason = "the new child exited while starting (exit code 1)"
    run.feed(1.25, NotAccepting(2, reason, 1.25))
    said = run.stopped(1.3, generation=2)
    assert run.event("restart_failed", said)["reason"] == reason
    assert "child_exited" not in run.events()
    assert "restart_scheduled" not in run.events()


def test_the_old_child_dying_during_the_handover_is_reported_once_the_new_one_serves() -> None:
    run = overlapping()
    _restart(run)
    run.feed(1.1, Exited(1, ChildExit(101, 1, None, 1.1), "exit code 1"))
    said = run.feed(1.3, Accepting(2, 1.3))
    exited = run.event("child_exited", said)
    assert (exited["pid"], exited["during"]) == (101, "an overlap restart")
    assert "restart_scheduled" not in run.events()  # no crash to count: the new one serves


def test_with_both_dead_the_old_childs_exit_is_the_crash() -> None:
    run = overlapping()
    _restart(run)
    run.feed(1.1, Exited(1, ChildExit(101, 1, None, 1.1), "exit code 1"))
    run.feed(1.2, NotAccepting(2, "the new child exited while starting (exit code 3)", 1.2))
    said = run.stopped(1.3, generation=2)
    assert run.event("restart_failed", said)["action"] == "the old child has exited too"
    assert run.event("child_exited", said)["pid"] == 101
    # Nothing it left can hold the port, which the watchdog holds: back at once.
    assert run.events(said)[-2:] == ["restart_scheduled", "child_started"]
    assert run.state is ChildState.STARTING


def test_the_new_child_dying_while_the_old_one_drains_is_a_crash() -> None:
    run = overlapping()
    _restart(run)
    run.feed(1.3, Accepting(2, 1.3))
    run.feed(1.35, StoppedAccepting(1, paused=1, unread=0, took=0.05))
    run.feed(1.5, Exited(2, ChildExit(102, 1, None, 1.5), "exit code 1"))
    said = run.stopped(2.0, generation=1)
    assert run.events(said)[:2] == ["child_stopped", "child_exited"]
    assert run.event("child_exited", said)["pid"] == 102
    assert run.state is ChildState.STARTING  # a first crash, on the held socket: back at once


def test_a_stop_during_the_handover_cancels_it_and_stops_both() -> None:
    run = overlapping()
    _restart(run)
    said = run.feed(1.2, Signalled("SIGTERM", 1.2))
    assert run.events(said) == ["signal_received", "watchdog_stopping", "child_stopping"]
    assert stops(said) == [StopTree(2, spare=1)]
    said = run.stopped(1.3, generation=2)
    assert run.events(said) == ["child_stopped", "restart_cancelled", "child_stopping"]
    assert stops(said) == [StopTree(1)]
    assert run.feed(1.35, Accepting(2, 1.35)) == []  # too late: it is already stopped
    said = run.stopped(1.5, generation=1)
    assert run.events(said) == ["child_stopped"]
    assert stops(said) == [StopTree(None)]


def test_without_a_held_socket_overlap_is_stop_start() -> None:
    run = Run(config(restart={"strategy": "stop_start"}))
    run.start()
    said = _restart(run)
    assert stops(said) == [StopTree(1)]


def test_a_stop_start_restart_takes_the_old_child_off_the_socket_first() -> None:
    run = Run(config(app={"listen": "127.0.0.1:8000"}))
    run.start()
    said = _restart(run)
    assert StopAccepting(1) in said
    assert stops(said) == []
    quiesced = StoppedAccepting(1, paused=0, unread=0, took=0.01, problems=("EPERM",))
    said = run.feed(1.1, quiesced)
    assert run.events(said) == ["child_quiesced", "child_stopping"]
    [warned] = [c for c in said if getattr(c, "name", "") == "child_quiesced"]
    assert warned.level == "warning"  # the first time it could not be done
    assert stops(said) == [StopTree(1)]
    run.stopped(1.3)
    run.probe(1.4)
    _restart(run, 400.0)
    said = run.feed(400.1, StoppedAccepting(2, paused=0, unread=0, took=0.01, problems=("EPERM",)))
    [again] = [c for c in said if getattr(c, "name", "") == "child_quiesced"]
    assert again.level == "info"  # said once is enough


def test_a_tree_over_its_cap_is_stopped_without_waiting_for_it_to_read() -> None:
    """Frozen and over its hard cap, it will read nothing: its stop does not wait."""
    run = Run(config(app={"listen": "127.0.0.1:8000"}, resources={"memory": {"max_rss": "1MB"}}))
    run.start()
    run.feed(1.0, CapCrossed(1, 2**30, 1.0))
    assert run.of(StopAccepting) == []
    assert stops(run.commands) == [StopTree(1)]


def test_a_stop_of_a_watchdog_on_a_systemd_socket_drops_nothing_either() -> None:
    run = Run(config(app={"listen": "systemd"}))
    run.start()
    said = run.feed(1.0, Signalled("SIGTERM", 1.0))
    assert StopAccepting(1) in said
    said = run.feed(1.1, StoppedAccepting(1, paused=1, unread=0, took=0.02))
    assert stops(said) == [StopTree(1)]


def test_while_the_old_child_drains_the_state_file_names_the_new_one() -> None:
    run = overlapping()
    _restart(run)
    run.feed(1.3, Accepting(2, 1.3))
    view = run.controller.view()["child"]
    assert (view["state"], view["pid"], view["healthy"]) == ("draining", 102, False)
