"""Scripted histories of one child: failed probes, the throttle, crashes, failed starts, caps."""

from __future__ import annotations

from tests.unit.histories import CLEAN_STOP, Run, config, failed, ok, probes, stops
from watchdog.core.commands import (
    Exit,
    Freeze,
    Spawn,
    StartProbes,
    StopProbes,
    StopTree,
    TakeSnapshot,
    WakeAt,
)
from watchdog.core.facts import Booted, CapCrossed, Probed, TimerFired
from watchdog.core.lifecycle import ChildState


class TestProbeFailures:
    def test_three_failed_probes_restart_the_child(self) -> None:
        """The third failure in a row stops the tree, then a new child starts and is probed."""
        run = Run()
        run.start()
        assert run.probe(1.1, failed(1.1)) == [Emitted("probe_failed")]
        run.probe(2.1, failed(2.1))
        said = run.probe(3.1, failed(3.1, "no answer within 500ms"))
        assert run.events(said) == ["probe_failed", "restart_triggered", "child_stopping"]
        assert run.event("restart_triggered")["reason"] == (
            "3 consecutive failed probes (no answer within 500ms)"
        )
        assert StopProbes() in said
        assert stops(said) == [StopTree(1)]
        assert run.state is ChildState.STOPPING
        said = run.stopped(3.3)
        assert run.events(said) == ["child_stopped", "child_started"]
        assert Spawn(2) in said
        assert run.event("child_started")["previous_pid"] == 101
        assert probes(said) == [StartProbes(2, 0.0, 0.1)]
        said = run.probe(3.5)
        assert run.event("child_healthy", said) == {"pid": 102, "startup": 0.2, "downtime": 0.4}
        assert probes(said) == [StartProbes(2, 1.0, 1.0)]

    def test_a_good_probe_resets_the_count(self) -> None:
        run = Run()
        run.start()
        for at in (1.0, 2.0):
            run.probe(at, failed(at))
        run.probe(3.0, ok(3.0))
        for at in (4.0, 5.0):
            run.probe(at, failed(at))
        assert "restart_triggered" not in run.events()
        assert run.state is ChildState.RUNNING

    def test_a_snapshot_comes_before_the_stop(self) -> None:
        """With diagnostics on, nothing is signalled until the snapshot is taken."""
        run = Run(config(diagnostics={"enabled": True}))
        run.start()
        for at in (1.0, 2.0):
            run.probe(at, failed(at))
        said = run.probe(3.0, failed(3.0))
        [take] = run.of(TakeSnapshot, said)
        assert take.reason.startswith("3 consecutive failed probes")
        assert stops(said) == []
        assert run.state is ChildState.RESTARTING
        run.probe(3.5, failed(3.5))  # the probe loop was stopped: a late one counts for nothing
        said = run.snapshot(3.6, "/logs/diagnostics/a.json")
        assert run.event("restart_triggered", said)["diagnostics"] == "/logs/diagnostics/a.json"
        assert stops(said) == [StopTree(1)]

    def test_a_failed_snapshot_is_said_and_the_restart_goes_on(self) -> None:
        run = Run(config(diagnostics={"enabled": True}))
        run.start()
        for at in (1.0, 2.0, 3.0):
            run.probe(at, failed(at))
        said = run.snapshot(3.1, None)
        assert run.events(said) == ["diagnostics_failed", "restart_triggered", "child_stopping"]
        assert run.event("restart_triggered", said)["diagnostics"] is None


class TestThrottle:
    def _second_failure_streak(self, run: Run, start: float) -> list:
        said = []
        for offset in (1.0, 2.0, 3.0):
            said = run.probe(start + offset, failed(start + offset))
        return said

    def test_a_restart_within_min_interval_is_recommended_then_carried_out(self) -> None:
        run = Run()
        run.start()
        self._second_failure_streak(run, 0.0)
        run.stopped(3.2)
        run.probe(3.3)  # the new child is healthy
        said = self._second_failure_streak(run, 10.0)
        recommended = run.event("RESTART_RECOMMENDED", said)
        assert recommended["restart_in"] == round(300 + 3.0 - 13.0, 1)
        assert WakeAt(303.0) in said
        assert run.state is ChildState.RUNNING
        said = run.feed(303.0, TimerFired(303.0))
        assert run.events(said) == ["restart_triggered", "child_stopping"]

    def test_a_recommendation_is_withdrawn_when_the_probes_recover(self) -> None:
        run = Run()
        run.start()
        self._second_failure_streak(run, 0.0)
        run.stopped(3.2)
        run.probe(3.3)
        self._second_failure_streak(run, 10.0)
        said = run.probe(14.0, ok(14.0))
        assert run.event("restart_recommendation_withdrawn", said)["reason"].startswith("3 ")
        assert WakeAt(None) in said
        assert run.events(run.feed(303.0, TimerFired(303.0))) == []


class TestCrashes:
    def test_crashes_back_off_then_loop_and_exit(self) -> None:
        """At once the first time, then 1 s, 2 s, 4 s; the fifth crash in 10 min exits 3."""
        run = Run()
        run.start()
        delays = []
        at = 1.0
        for _ in range(4):
            run.exit(at)
            said = run.stopped(at + 0.01)  # the sweep of its orphans
            delays.append(run.event("restart_scheduled", said)["delay"])
            wake = [c.at for c in said if isinstance(c, WakeAt)]
            if wake and wake[0] is not None:
                run.feed(wake[0], TimerFired(wake[0]))
                at = wake[0] + 0.5
            else:
                at += 0.5
        assert delays == [0.0, 1.0, 2.0, 4.0]
        run.exit(at)
        said = run.stopped(at + 0.01)
        assert run.events(said) == ["crash_loop", "watchdog_stopping"]
        assert run.event("crash_loop", said)["action"] == "exit"
        assert run.event("watchdog_stopping", said)["state"] == "fatal"
        assert run.state is ChildState.FATAL
        assert stops(said) == [StopTree(None)]
        said = run.stopped(at + 0.1, generation=0)
        assert said == [Emitted("watchdog_stopped"), Exit(3)]

    def test_keep_trying_waits_backoff_max_after_the_loop(self) -> None:
        run = Run(config(restart={"crash_loop": {"max_crashes": 2, "action": "keep_trying"}}))
        run.start()
        run.exit(1.0)
        run.stopped(1.01)
        run.probe(1.1)
        run.exit(2.0)
        said = run.stopped(2.01)
        assert run.event("crash_loop", said)["action"] == "keep_trying"
        assert run.event("restart_scheduled", said)["delay"] == 8.0
        assert run.state is ChildState.BACKOFF

    def test_the_crash_is_reported_after_its_snapshot_and_counted_after_the_sweep(self) -> None:
        run = Run(config(diagnostics={"enabled": True}))
        run.start()
        said = run.exit(5.0)
        [take] = run.of(TakeSnapshot, said)
        assert take.exit_info == {"code": 1, "signal": None, "description": "exit code 1"}
        assert run.events(said) == []
        said = run.snapshot(5.05)
        assert run.events(said) == ["child_exited"]
        assert run.event("child_exited", said)["uptime"] == 5.0
        assert stops(said) == [StopTree(1)]
        orphans = CLEAN_STOP.__class__(signalled=2, killed=1, survivors=0, took=0.1)
        said = run.stopped(5.2, outcome=orphans)
        assert run.events(said) == ["orphans_stopped", "restart_scheduled", "child_started"]


class TestFailedStart:
    def test_never_healthy_is_stopped_and_counted_like_a_crash(self) -> None:
        run = Run()
        said = run.feed(0.0, Booted(0.0))
        assert WakeAt(10.0) in said  # the startup deadline
        run.feed(5.0, Probed(1, failed(5.0)))
        said = run.feed(10.0, TimerFired(10.0))
        assert run.event("child_failed_start", said)["reason"] == (
            "not healthy within startup_timeout (10s); last probe: connection refused"
        )
        assert stops(said) == [StopTree(1)]
        said = run.stopped(10.2)
        assert run.events(said) == ["child_stopped", "restart_scheduled", "child_started"]


class TestCap:
    def test_a_cap_crossed_during_start_up_freezes_then_stops(self) -> None:
        run = Run(config(resources={"memory": {"max_rss": "100MB"}}))
        run.feed(0.0, Booted(0.0))
        said = run.feed(0.05, CapCrossed(1, 150 * 2**20, 0.05))
        assert Freeze() in said
        assert run.event("restart_triggered", said)["reason"] == (
            "memory over its cap: 150MB >= max_rss 100MB"
        )
        said = run.stopped(0.2)
        # Counted like the crash it would have become: the first one restarts at once.
        assert run.events(said) == ["child_stopped", "restart_scheduled", "child_started"]

    def test_a_cap_check_of_the_old_child_is_stale(self) -> None:
        run = Run(config(resources={"memory": {"max_rss": "100MB"}}))
        run.start()
        for at in (1.0, 2.0, 3.0):
            run.probe(at, failed(at))
        run.stopped(3.1)
        said = run.feed(3.2, CapCrossed(1, 150 * 2**20, 3.2))
        assert said == []


class TestStaleFacts:
    def test_facts_about_an_old_generation_decide_nothing(self) -> None:
        run = Run()
        run.start()
        for at in (1.0, 2.0, 3.0):
            run.probe(at, failed(at))
        run.stopped(3.1)
        assert run.generation == 2
        assert run.feed(3.2, Probed(1, failed(3.2))) == []
        assert run.exit(3.3, generation=1) == []
        assert run.state is ChildState.STARTING


class Emitted:
    """Equal to an Emit of that name, whatever its fields: for comparing command lists."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return getattr(other, "name", None) == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class TestSpawnFailure:
    def test_a_command_that_cannot_start_is_counted_like_a_crash(self) -> None:
        from watchdog.core.facts import SpawnFailed

        run = Run()
        controller = run.controller
        said = controller.step(Booted(0.0), 0.0)
        [spawn] = [c for c in said if isinstance(c, Spawn)]
        said = controller.step(SpawnFailed(spawn.generation, "command not found: serve", 0.0), 0.0)
        assert [c.name for c in said if hasattr(c, "fields")][:2] == [
            "spawn_failed",
            "restart_scheduled",
        ]
        assert controller.state is ChildState.STARTING  # the first failure retries at once
        again = controller.step(SpawnFailed(spawn.generation, "again", 0.1), 0.1)
        assert again == []  # that generation already failed: a repeat is stale
