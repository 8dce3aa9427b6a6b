"""Scripted histories of `watchdog stop` and `watchdog start`: the app down on purpose."""

from __future__ import annotations

from tests.unit.histories import Run, answers, config, failed, probes, stops
from watchdog.core.commands import (
    Answer,
    Exit,
    ReadConfig,
    Reconfigure,
    Spawn,
    StopAccepting,
    WakeAt,
)
from watchdog.core.facts import (
    ConfigRead,
    Reconfigured,
    Sampled,
    Signalled,
    StoppedAccepting,
    TimerFired,
)
from watchdog.core.lifecycle import ChildState
from watchdog.core.steps.operator import START_SIGNAL, STOP_SIGNAL

USE_START = {"detail": "stopped by operator: use watchdog start"}


def signal(run: Run, at: float, name: str) -> list:
    return run.feed(at, Signalled(name, at))


def held(run: Run, at: float = 1.0) -> Run:
    """A healthy child stopped by the operator at `at`, its tree gone at `at` + 0.2."""
    said = signal(run, at, STOP_SIGNAL)
    assert answers(said) == [(STOP_SIGNAL, "stopping")]
    assert [s.generation for s in stops(said)] == [run.generation]
    said = run.stopped(at + 0.2)
    assert run.of(Answer, said) == [Answer(None, "stopped", USE_START)]
    assert run.state is ChildState.HELD
    return run


def started() -> Run:
    run = Run()
    run.start()
    return run


class TestStop:
    def test_a_healthy_child_is_stopped_and_nothing_starts(self) -> None:
        run = held(started())
        assert run.events()[-3:] == ["child_stopping", "child_stopped", "app_stopped_by_operator"]
        later = [run.feed(at, TimerFired(at)) for at in (5.0, 60.0, 3600.0)]
        assert all(run.of(Spawn, said) == [] for said in later)
        assert all(probes(said) == [] for said in later)
        assert run.controller.view()["child"] == {
            "state": "stopped_by_operator",
            "pid": None,
            "healthy": False,
            "started": 1e9 + 0.0,
        }

    def test_no_wake_up_is_left_while_stopped(self) -> None:
        """No planned restart, no startup deadline, no throttled restart: nothing to wake for."""
        run = Run(config(restart={"max_uptime": "1h"}))
        run.start()
        signal(run, 3.5, "SIGUSR1")  # counts against the throttle
        run.stopped(3.7)
        run.probe(3.8)
        for at in (4.0, 5.0, 6.0):  # failing within the throttle: a restart is pending
            run.probe(at, failed(at))
        assert run.controller.policy.pending is not None
        held(run, 6.5)
        assert run.controller.next_deadline() is None
        assert run.of(WakeAt)[-1] == WakeAt(None)
        assert run.controller.view()["pending_restart"] is None

    def test_a_crash_while_waiting_to_respawn_stays_down(self) -> None:
        run = started()
        run.exit(1.0)
        run.stopped(1.01)  # the sweep; a first crash respawns at once
        run.probe(1.1)
        run.exit(2.0)
        run.stopped(2.01)
        assert run.state is ChildState.BACKOFF
        said = signal(run, 2.5, STOP_SIGNAL)
        assert answers(said) == [(STOP_SIGNAL, "stopped")]
        assert run.state is ChildState.HELD
        assert run.of(Spawn, run.feed(30.0, TimerFired(30.0))) == []

    def test_a_crash_being_handled_ends_stopped(self) -> None:
        run = started()
        run.exit(1.0)
        assert run.state is ChildState.EXITED
        said = signal(run, 1.005, STOP_SIGNAL)
        assert answers(said) == [(STOP_SIGNAL, "stopping")]
        said = run.stopped(1.01)  # the sweep of its orphans: a respawn would be next
        assert run.of(Spawn, said) == []
        assert answers(said) == [(None, "stopped")]
        assert run.state is ChildState.HELD
        assert "restart_scheduled" not in run.events(said)  # none is: it stays down

    def test_a_crash_at_the_crash_loop_limit_still_ends_stopped(self) -> None:
        """The operator asked for the app down and was told it stays so: no crash loop exit."""
        loop = {"crash_loop": {"action": "exit", "max_crashes": 2, "window": "1m"}}
        run = Run(config(restart=loop))
        run.start()
        run.exit(1.0)
        run.stopped(1.01)
        run.probe(1.1)
        run.exit(2.0)  # the second crash in the window: the limit
        signal(run, 2.005, STOP_SIGNAL)
        said = run.stopped(2.01)
        assert run.of(Exit, said) == []
        assert "crash_loop" not in run.events(said)
        assert answers(said) == [(None, "stopped")]
        assert run.state is ChildState.HELD

    def test_the_child_dying_during_the_stop_still_ends_stopped(self) -> None:
        run = started()
        signal(run, 1.0, STOP_SIGNAL)
        run.exit(1.1)
        said = run.stopped(1.2)
        assert run.of(Spawn, said) == []
        assert run.state is ChildState.HELD

    def test_a_held_socket_is_quiesced_first(self) -> None:
        run = Run(config(app={"listen": "127.0.0.1:8000"}))
        run.start()
        said = signal(run, 1.0, STOP_SIGNAL)
        assert run.of(StopAccepting, said) == [StopAccepting(1)]
        assert stops(said) == []
        said = run.feed(1.1, StoppedAccepting(1, 1, 0, 0.05))
        assert [s.generation for s in stops(said)] == [1]
        run.stopped(1.3)
        assert run.state is ChildState.HELD

    def test_during_a_restart_it_is_refused(self) -> None:
        run = started()
        signal(run, 1.0, "SIGUSR1")
        said = signal(run, 1.05, STOP_SIGNAL)
        [answer] = run.of(Answer, said)
        assert answer.outcome == "busy"
        assert "a restart is under way" in answer.detail["detail"]
        run.stopped(1.2)
        assert run.state is ChildState.STARTING  # the restart went on

    def test_the_stopped_apps_levels_are_not_shown_as_the_apps_now(self) -> None:
        """A tree gone on purpose has no memory level: status must not be CRITICAL for
        a figure of the child stopped hours ago, nor count it against the next one."""
        from tests.unit.test_controller_remedies import MEMORY, sample

        run = Run(config(resources={"memory": MEMORY}))
        run.start()
        run.feed(1.0, Sampled(sample(1.0, 900)))
        assert run.controller.view()["levels"]["memory"]["level"] == "critical"
        held(run, 2.0)
        levels = run.controller.view()["levels"]
        assert "memory" not in levels
        assert "cpu" not in levels
        assert "host_memory" in levels  # the host is still there

    def test_twice_says_it_is_stopped_already(self) -> None:
        run = held(started())
        said = signal(run, 2.0, STOP_SIGNAL)
        assert run.of(Answer, said) == [Answer(STOP_SIGNAL, "stopped", USE_START)]
        assert stops(said) == []


class TestWhileStopped:
    def test_a_restart_request_says_use_start(self) -> None:
        run = held(started())
        for name in ("SIGUSR1", "SIGUSR2"):
            said = signal(run, 2.0, name)
            assert run.of(Answer, said) == [Answer(name, "ignored", USE_START)]
            assert run.of(Spawn, said) == []
        assert run.state is ChildState.HELD

    def test_a_reload_keeps_it_stopped_even_with_a_new_command(self) -> None:
        run = held(started())
        said = signal(run, 2.0, "SIGHUP")
        assert run.of(ReadConfig, said)
        new = config(app={"command": ["serve", "--new"]})
        said = run.feed(2.1, ConfigRead(new, (), 2.1))
        assert run.of(Reconfigure, said)
        said = run.feed(2.2, Reconfigured((), 2.2))
        assert answers(said) == [("SIGHUP", "reloaded")]
        assert run.of(Spawn, said) == []
        assert run.state is ChildState.HELD
        signal(run, 3.0, START_SIGNAL)
        assert run.controller.child is not None
        assert run.controller.child.app == new.app  # the start uses what the reload read

    def test_sigterm_stops_the_watchdog(self) -> None:
        run = held(started())
        said = signal(run, 2.0, "SIGTERM")
        assert [s.generation for s in stops(said)] == [None]  # the last sweep only


class TestStart:
    def test_a_fresh_child_and_its_outcome(self) -> None:
        run = held(started())
        said = signal(run, 2.0, START_SIGNAL)
        assert answers(said) == [(START_SIGNAL, "starting")]
        assert run.of(Spawn, said) == [Spawn(2)]
        assert run.state is ChildState.STARTING
        said = run.probe(2.3)
        assert run.of(Answer, said) == [Answer(None, "restarted", {"pid": 102, "startup": 0.3})]
        assert run.state is ChildState.RUNNING

    def test_probes_and_restart_rules_apply_again(self) -> None:
        run = held(started())
        signal(run, 2.0, START_SIGNAL)
        run.probe(2.3)
        for at in (3.0, 4.0, 5.0):
            said = run.probe(at, failed(at))
        assert run.state is ChildState.STOPPING  # three failures: the usual restart
        assert [s.generation for s in stops(said)] == [2]

    def test_crashes_before_the_stop_do_not_lengthen_the_backoff(self) -> None:
        run = started()
        run.exit(1.0)
        run.stopped(1.01)  # a first crash: back at once
        run.probe(1.1)
        run.exit(2.0)
        run.stopped(2.01)  # a second: after backoff_initial
        run.feed(3.1, TimerFired(3.1))
        run.probe(3.2)
        assert run.controller.policy.crashes == 2
        held(run, 10.0)
        signal(run, 11.0, START_SIGNAL)
        run.exit(11.5)
        said = run.stopped(11.51)
        assert run.of(Spawn, said) == [Spawn(run.generation)]  # a first crash: back at once

    def test_when_running_it_says_not_stopped(self) -> None:
        run = started()
        said = signal(run, 1.0, START_SIGNAL)
        [answer] = run.of(Answer, said)
        assert (answer.outcome, answer.detail["state"]) == ("not_stopped", "running")
        assert run.of(Spawn, said) == []

    def test_while_the_stop_is_under_way_it_is_refused(self) -> None:
        run = started()
        signal(run, 1.0, STOP_SIGNAL)
        said = signal(run, 1.05, START_SIGNAL)
        assert answers(said) == [(START_SIGNAL, "busy")]
        run.stopped(1.2)
        assert run.state is ChildState.HELD


def test_a_reload_during_the_stop_starts_no_probes() -> None:
    """Being taken off the held socket, the child is still running, but no longer watched."""
    run = Run(config(app={"listen": "127.0.0.1:8000"}))
    run.start()
    signal(run, 1.0, STOP_SIGNAL)
    signal(run, 1.01, "SIGHUP")
    run.feed(
        1.02,
        ConfigRead(config(app={"listen": "127.0.0.1:8000"}, health={"interval": "2s"}), (), 1.02),
    )
    said = run.feed(1.03, Reconfigured((), 1.03))
    assert probes(said) == []
    run.feed(1.1, StoppedAccepting(1, 1, 0, 0.05))
    run.stopped(1.3)
    assert run.state is ChildState.HELD


def test_no_worker_is_recycled_and_no_remedy_sent_while_the_stop_quiesces() -> None:
    """Taken off the held socket before its stop, the child still runs, but is no longer
    the watchdog's to act on: a sample then must not signal a worker or the app."""
    from tests.unit.test_controller_remedies import MEMORY, REMEDY, memory_at, sent
    from tests.unit.test_controller_workers import sample, signals, worker

    memory = {**MEMORY, "max_worker_rss": "100MB"}
    run = Run(
        config(
            app={"listen": "127.0.0.1:8000"},
            resources={"memory": memory},
            remedies={"memory": REMEDY},
        )
    )
    run.start()
    signal(run, 1.0, STOP_SIGNAL)
    assert run.state is ChildState.RUNNING  # until it is off the socket
    said = run.feed(1.05, Sampled(sample(1.05, worker(201, 150), of=run.generation)))
    assert signals(said) == []
    said = memory_at(run, 1.06, 600)
    assert sent(run, said) == []
    assert "remedy_started" not in run.events()
    run.feed(1.1, StoppedAccepting(1, 1, 0, 0.05))
    run.stopped(1.3)
    assert run.state is ChildState.HELD


class TestWhileTakenOffTheSocket:
    """The stop waits for the child to be off the held socket: what comes meanwhile wins."""

    def stopping(self) -> Run:
        run = Run(config(app={"listen": "127.0.0.1:8000"}))
        run.start()
        signal(run, 1.0, STOP_SIGNAL)
        return run

    def test_sigterm_stops_the_watchdog_as_usual(self) -> None:
        run = self.stopping()
        said = signal(run, 1.01, "SIGTERM")
        assert [s.generation for s in stops(said)] == [1]
        said = run.feed(1.1, StoppedAccepting(1, 1, 0, 0.05))
        assert stops(said) == []  # the watchdog's own stop is under way already
        run.stopped(1.3)
        said = run.stopped(1.4, generation=0)
        assert run.of(Exit, said) == [Exit(0)]

    def test_a_crash_swept_before_the_answer_ends_stopped(self) -> None:
        run = self.stopping()
        run.exit(1.05)
        run.stopped(1.06)  # its orphans swept: the crash is handled, and the app held
        assert run.state is ChildState.HELD
        said = run.feed(1.1, StoppedAccepting(1, 1, 0, 0.05))
        assert stops(said) == []
        assert run.state is ChildState.HELD

    def test_a_crash_swept_after_the_answer_ends_stopped(self) -> None:
        run = self.stopping()
        run.exit(1.05)
        said = run.feed(1.1, StoppedAccepting(1, 1, 0, 0.05))
        assert stops(said) == []  # the sweep of the crash is under way: no second stop
        run.stopped(1.2)
        assert run.state is ChildState.HELD
