"""Scripted histories of what operators ask: restarts, reloads and the stop."""

from __future__ import annotations

import dataclasses

from tests.unit.histories import Run, answers, config, failed, probes, stops
from watchdog.core.bookkeeping import FromNow
from watchdog.core.commands import (
    Answer,
    CancelSnapshot,
    Exit,
    ReadConfig,
    Reconfigure,
    StartProbes,
    StopTree,
    TakeSnapshot,
    WakeAt,
)
from watchdog.core.facts import ConfigRead, Reconfigured, Signalled, SnapshotTaken, TimerFired
from watchdog.core.lifecycle import ChildState


def signal(run: Run, at: float, name: str) -> list:
    return run.feed(at, Signalled(name, at))


class TestRestartRequests:
    def test_sigusr1_restarts_now_and_the_outcome_follows(self) -> None:
        run = Run()
        run.start()
        said = signal(run, 1.0, "SIGUSR1")
        assert answers(said) == [("SIGUSR1", "restarting")]
        assert run.event("restart_triggered", said)["reason"] == "requested by SIGUSR1"
        said = run.stopped(1.2)
        assert answers(said) == []
        said = run.probe(1.4)
        [outcome] = run.of(Answer, said)
        assert outcome == Answer(None, "restarted", {"pid": 102, "startup": 0.2})

    def test_sigusr2_within_the_throttle_is_throttled(self) -> None:
        run = Run()
        run.start()
        signal(run, 1.0, "SIGUSR1")
        run.stopped(1.2)
        run.probe(1.4)
        said = signal(run, 10.0, "SIGUSR2")
        [answer] = run.of(Answer, said)
        assert answer.outcome == "throttled"
        assert answer.detail["restart_at"] == FromNow(291.0)
        assert run.events(said) == ["signal_received", "RESTART_RECOMMENDED"]

    def test_twice_in_a_row_restarts_once(self) -> None:
        """The second request arrives while the first restart is under way: it waits for
        that restart's outcome instead of starting another."""
        run = Run()
        run.start()
        signal(run, 1.0, "SIGUSR1")
        said = signal(run, 1.05, "SIGUSR1")
        assert answers(said) == [("SIGUSR1", "restarting")]
        assert run.of(Answer, said)[0].detail == {"detail": "a restart was already under way"}
        assert stops(said) == []
        run.stopped(1.2)
        assert run.events().count("restart_triggered") == 1

    def test_a_request_sent_before_the_current_child_started_is_done(self) -> None:
        run = Run()
        run.start()
        signal(run, 1.0, "SIGUSR1")
        run.stopped(1.2)
        said = run.feed(1.3, Signalled("SIGUSR1", 1.1))  # queued behind the restart
        assert answers(said) == [("SIGUSR1", "done")]

    def test_during_a_stop_it_rides_on_that_restart(self) -> None:
        run = Run()
        run.start()
        for at in (1.0, 2.0, 3.0):
            run.probe(at, failed(at))
        assert run.state is ChildState.STOPPING
        said = signal(run, 3.05, "SIGUSR2")
        assert answers(said) == [("SIGUSR2", "restarting")]
        said = run.stopped(3.2)
        said = run.probe(3.4)
        assert answers(said) == [(None, "restarted")]

    def test_in_backoff_sigusr1_cuts_it_short_and_sigusr2_does_not(self) -> None:
        run = Run()
        run.start()
        run.exit(1.0)
        run.stopped(1.01)
        run.probe(1.1)
        run.exit(2.0)
        run.stopped(2.01)  # the second crash: 1 s of backoff
        assert run.state is ChildState.BACKOFF
        said = signal(run, 2.5, "SIGUSR2")
        [answer] = run.of(Answer, said)
        assert (answer.outcome, answer.detail["backoff"]) == ("throttled", True)
        assert run.state is ChildState.BACKOFF
        said = signal(run, 2.6, "SIGUSR1")
        assert answers(said) == [("SIGUSR1", "restarting")]
        assert run.state is ChildState.STARTING
        assert WakeAt(12.6) in said  # the new child's startup deadline, no backoff wake-up


class TestStop:
    def test_sigterm_stops_the_child_then_sweeps_then_exits_0(self) -> None:
        run = Run()
        run.start()
        said = signal(run, 1.0, "SIGTERM")
        assert run.events(said) == ["signal_received", "watchdog_stopping", "child_stopping"]
        said = run.stopped(1.2)
        assert stops(said) == [StopTree(None)]
        said = run.stopped(1.3, generation=0)
        assert run.events(said) == ["watchdog_stopped"]
        assert said[-1] == Exit(0)

    def test_sigterm_during_a_restart_starts_nothing_new(self) -> None:
        run = Run()
        run.start()
        signal(run, 1.0, "SIGUSR1")
        said = signal(run, 1.05, "SIGTERM")
        assert answers(said) == [(None, "restart_cancelled")]
        said = run.stopped(1.2)
        assert "child_started" not in run.events(said)
        assert stops(said) == [StopTree(None)]

    def test_sigterm_during_a_snapshot_cancels_it(self) -> None:
        run = Run(config(diagnostics={"enabled": True}))
        run.start()
        said = signal(run, 1.0, "SIGUSR1")
        [take] = run.of(TakeSnapshot, said)
        said = signal(run, 1.1, "SIGTERM")
        assert CancelSnapshot(take.ticket) in said
        said = run.feed(1.15, SnapshotTaken(take.ticket, None, cancelled=True))
        assert run.events(said) == ["diagnostics_skipped", "restart_triggered", "child_stopping"]
        said = run.stopped(1.3)
        assert "child_started" not in run.events(said)

    def test_sigterm_during_backoff_sweeps_and_exits(self) -> None:
        run = Run()
        run.start()
        run.exit(1.0)
        run.stopped(1.01)
        run.probe(1.1)
        run.exit(2.0)
        run.stopped(2.01)
        said = signal(run, 2.2, "SIGTERM")
        assert stops(said) == [StopTree(None)]
        assert WakeAt(None) in said
        assert run.feed(3.01, TimerFired(3.01)) == []  # the backoff's wake-up starts nothing


class TestReload:
    def _reloaded(self, run: Run, at: float, **sections: dict) -> list:
        said = signal(run, at, "SIGHUP")
        assert ReadConfig() in said
        new = config(**sections)
        said = run.feed(at + 0.01, ConfigRead(new, (), at + 0.01))
        assert said == [Reconfigure(new)]
        return run.feed(at + 0.02, Reconfigured((), at + 0.02))

    def test_a_new_health_section_repaces_the_probes(self) -> None:
        run = Run()
        run.start()
        said = self._reloaded(run, 1.0, health={"interval": "2s"})
        assert run.event("config_reloaded", said) == {"changed": ["health"]}
        assert probes(said) == [StartProbes(1, 0.0, 2.0)]
        assert answers(said) == [("SIGHUP", "reloaded")]

    def test_a_new_app_section_restarts_the_app(self) -> None:
        run = Run()
        run.start()
        said = self._reloaded(run, 1.0, app={"stop_timeout": "3s"})
        assert run.event("restart_triggered", said)["reason"] == (
            "config reloaded with a new app section"
        )

    def test_a_moved_listen_address_is_refused(self) -> None:
        run = Run()
        run.start()
        signal(run, 1.0, "SIGHUP")
        moved = config(app={"listen": "127.0.0.1:9000"})
        said = run.feed(1.01, ConfigRead(moved, (), 1.01))
        assert run.event("reload_failed", said)["errors"] == [
            "app.listen: set to 127.0.0.1:9000, but the running watchdog holds no socket;"
            " restart the watchdog to change it"
        ]
        assert answers(said) == [("SIGHUP", "reload_failed")]
        assert run.controller.config.app.listen is None

    def test_a_new_backlog_for_the_held_socket_is_refused(self) -> None:
        """listen() took the backlog once: only a restart of the watchdog changes it."""
        held = {"listen": "127.0.0.1:8000"}
        run = Run(config(app=held))
        run.start()
        signal(run, 1.0, "SIGHUP")
        said = run.feed(1.01, ConfigRead(config(app={**held, "listen_backlog": 64}), (), 1.01))
        assert run.event("reload_failed", said)["errors"] == [
            "app.listen_backlog: 64 differs from 2048, the backlog of the socket the running"
            " watchdog holds; restart the watchdog to change it"
        ]

    def test_a_bad_file_is_a_failed_reload_and_supervision_goes_on(self) -> None:
        run = Run()
        run.start()
        signal(run, 1.0, "SIGHUP")
        said = run.feed(1.01, ConfigRead(None, ("health.interval: expected ...",), 1.01))
        assert run.events(said) == ["reload_failed"]
        assert run.state is ChildState.RUNNING

    def test_a_reload_the_shell_could_not_apply_changes_nothing(self) -> None:
        run = Run()
        run.start()
        before = run.controller.config
        signal(run, 1.0, "SIGHUP")
        run.feed(1.01, ConfigRead(config(logging={"dir": "/x"}), (), 1.01))
        said = run.feed(1.02, Reconfigured(("logging.dir: cannot write",), 1.02))
        assert run.events(said) == ["reload_failed"]
        assert run.controller.config is before

    def test_a_sighup_during_a_reload_reads_again_afterwards(self) -> None:
        run = Run()
        run.start()
        signal(run, 1.0, "SIGHUP")
        assert ReadConfig() not in signal(run, 1.005, "SIGHUP")
        said = run.feed(1.01, ConfigRead(None, ("bad",), 1.01))
        assert ReadConfig() in said


def test_a_throttled_answer_names_the_moment_from_now() -> None:
    """FromNow is how the controller says a wall-clock time without reading a clock."""
    assert dataclasses.asdict(FromNow(3.0)) == {"seconds": 3.0, "iso": False}
