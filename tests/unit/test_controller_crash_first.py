"""Scripted histories of a first crash: the dead app comes back first; the crashed child's
snapshot and the sweep of what it left come once the new child has answered (or ended),
and go first only when what it left could hold the port."""

from __future__ import annotations

from tests.unit.histories import CLEAN_STOP, Run, config, failed
from watchdog.core.commands import CancelSnapshot, Spawn, StopTree, TakeSnapshot
from watchdog.core.facts import Probed, Signalled, SnapshotTaken
from watchdog.core.lifecycle import ChildState

HELD = {"listen": "127.0.0.1:8000"}
ORPHANS = CLEAN_STOP.__class__(signalled=2, killed=0, survivors=0, took=0.05)


def running(**app: object) -> Run:
    run = Run(config(app=app, diagnostics={"enabled": True}))
    run.start()
    return run


def test_with_nothing_left_running_the_respawn_comes_before_the_snapshot() -> None:
    run = running()
    said = run.exit(5.0, left=0)
    assert run.events(said) == ["child_exited", "restart_scheduled", "child_started"]
    assert "diagnostics" not in run.event("child_exited", said)  # it follows, once taken
    assert run.of(Spawn, said)
    assert not run.of(TakeSnapshot, said), "nothing stands in front of the spawn"
    assert not run.of(StopTree, said)
    assert run.state is ChildState.STARTING


def test_the_snapshot_waits_for_the_new_childs_first_answer_then_the_sweep_spares_it() -> None:
    run = running()
    run.exit(5.0, left=0)
    said = run.feed(5.05, Probed(2, failed(5.05)))  # still booting: not yet
    assert not run.of(TakeSnapshot, said)
    said = run.probe(5.1)
    [take] = run.of(TakeSnapshot, said)
    assert take.generation == 1
    assert take.exit_info == {"code": 1, "signal": None, "description": "exit code 1"}
    said = run.snapshot(5.3, "/logs/diagnostics/crash.json")
    written = run.event("diagnostics_written", said)
    assert written["pid"] == run.pid_of(1)
    assert written["diagnostics"] == "/logs/diagnostics/crash.json"
    assert written["reason"] == "exited: exit code 1"
    assert run.of(StopTree, said) == [StopTree(1, spare=2)]
    said = run.stopped(5.4, generation=1, outcome=ORPHANS)
    assert run.event("orphans_stopped", said)["count"] == 2
    assert run.state is ChildState.RUNNING
    assert run.generation == 2


def test_on_a_held_socket_what_it_left_cannot_hold_the_port() -> None:
    run = running(**HELD)
    said = run.exit(5.0, left=3)
    assert run.events(said)[-1] == "child_started"
    assert not run.of(StopTree, said)


def test_without_a_held_socket_what_it_left_is_swept_first() -> None:
    """One of its orphans may hold the port the new child must bind."""
    run = running()
    said = run.exit(5.0, left=2)
    assert run.of(TakeSnapshot, said)
    assert not run.of(Spawn, said)
    said = run.snapshot(5.1)
    assert run.of(StopTree, said) == [StopTree(1)]
    said = run.stopped(5.2, outcome=ORPHANS)
    assert run.events(said) == ["orphans_stopped", "restart_scheduled", "child_started"]


def test_a_second_crash_in_a_row_waits_its_backoff_as_before() -> None:
    """Only an immediate respawn goes first: a backoff leaves time for the snapshot."""
    run = running()
    run.exit(5.0, left=0)
    run.probe(5.1)
    run.snapshot(5.2)
    run.stopped(5.3, generation=1)
    said = run.exit(6.0, left=0)
    assert not run.of(Spawn, said)
    assert run.of(TakeSnapshot, said)
    said = run.snapshot(6.1)
    said = run.stopped(6.2)
    assert run.event("restart_scheduled", said)["delay"] > 0
    assert run.state is ChildState.BACKOFF


def test_a_new_child_that_dies_booting_lets_the_first_ones_snapshot_go() -> None:
    run = running()
    run.exit(5.0, left=0)
    said = run.exit(5.05, left=0)  # the new child, before its first answer
    takes = run.of(TakeSnapshot, said)
    assert sorted(t.generation for t in takes) == [1, 2], "both crashes are recorded"


def test_a_stop_before_the_new_child_answered_skips_the_first_ones_snapshot() -> None:
    run = running()
    run.exit(5.0, left=0)
    said = run.feed(5.05, Signalled("SIGTERM", 5.05))
    skipped = run.event("diagnostics_skipped", said)
    assert skipped["reason"] == "exited: exit code 1"
    assert run.controller.left_behind is None


def snapshot_asked() -> tuple[Run, TakeSnapshot]:
    """A first crash respawned past, its snapshot asked for at the new child's answer."""
    run = running()
    run.exit(5.0, left=0)
    run.probe(5.1)
    [take] = run.of(TakeSnapshot)
    return run, take


def test_a_stop_while_its_snapshot_is_taken_cancels_it() -> None:
    run, take = snapshot_asked()
    said = run.feed(5.2, Signalled("SIGTERM", 5.2))
    assert CancelSnapshot(take.ticket) in said


def test_diagnostics_off_sweeps_at_once_after_the_first_answer() -> None:
    run = Run(config(diagnostics={"enabled": False}))
    run.start()
    run.exit(5.0, left=0)
    said = run.probe(5.1)
    assert not run.of(TakeSnapshot, said)
    assert run.of(StopTree, said) == [StopTree(1, spare=2)]


def test_a_snapshot_written_before_its_cancel_took_effect_is_reported_written() -> None:
    """The cancel of a snapshot nearly done may come too late: its fact still tells."""
    run, take = snapshot_asked()
    run.feed(5.2, Signalled("SIGTERM", 5.2))
    said = run.feed(5.25, SnapshotTaken(take.ticket, "/logs/diagnostics/crash.json"))
    assert run.event("diagnostics_written", said)["diagnostics"] == "/logs/diagnostics/crash.json"
    assert "diagnostics_skipped" not in run.events()
    assert run.controller.left_behind is None


def test_a_cancelled_snapshot_is_skipped_once_its_fact_comes() -> None:
    run, take = snapshot_asked()
    said = run.feed(5.2, Signalled("SIGTERM", 5.2))
    said += run.stopped(5.3, generation=2)  # the current child stopped meanwhile
    assert "diagnostics_skipped" not in run.events(said), "not yet: it may still be written"
    said = run.feed(5.35, SnapshotTaken(take.ticket, None, cancelled=True))
    assert run.event("diagnostics_skipped", said)["reason"] == "exited: exit code 1"
    assert run.controller.left_behind is None


def test_with_diagnostics_off_a_stop_says_no_snapshot_was_skipped() -> None:
    """None was ever to be taken: diagnostics_skipped would tell of one."""
    run = Run(config(diagnostics={"enabled": False}))
    run.start()
    run.exit(5.0, left=0)
    run.feed(5.05, Signalled("SIGTERM", 5.05))  # before the new child answered
    assert "diagnostics_skipped" not in run.events()
    assert run.controller.left_behind is None
