"""Scripted histories of remedies: sent on a level, judged after settle on a fresh value,
at most once per cooldown, only to a running child, and never in place of a restart."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.histories import Run, config, failed, ok, stops
from watchdog.config import Config
from watchdog.core.commands import PostApp, SignalApp, StopTree
from watchdog.core.facts import (
    Booted,
    ConfigRead,
    Reconfigured,
    RemedyDone,
    Sampled,
    Signalled,
    TimerFired,
)
from watchdog.core.lifecycle import ChildState
from watchdog.core.observations import Sample

LIMIT = 1000 * 2**20  # memory percentages below are of 1000 MB
MEMORY = {"warning": 50, "critical": 80, "sustain": "30s"}
REMEDY = {"level": "warning", "signal": "USR1", "cooldown": "5m", "settle": "20s"}


def sample(at: float, rss_mb: float) -> Sample:
    return Sample(at, 1, int(rss_mb * 2**20), 0.0, 1, 4, 2, LIMIT, "host", 10.0, 5.0, ())


def remedied(**remedy: Any) -> Config:
    return config(resources={"memory": MEMORY}, remedies={"memory": {**REMEDY, **remedy}})


def memory_at(run: Run, at: float, rss_mb: float) -> list[Any]:
    return run.feed(at, Sampled(sample(at, rss_mb)))


def sent(run: Run, said: list[Any] | None = None) -> list[SignalApp | PostApp]:
    return [*run.of(SignalApp, said), *run.of(PostApp, said)]


def done(run: Run, at: float, ok: bool = True, error: str | None = None) -> list[Any]:
    [last] = sent(run)[-1:]
    return run.feed(at, RemedyDone(last.generation, last.ticket, ok, error, at))


def remedy_events(run: Run) -> list[str]:
    return [name for name in run.events() if name.startswith("remedy_")]


def test_memory_at_warning_is_signalled_and_judged_on_the_first_value_after_settle() -> None:
    run = Run(remedied())
    run.start()
    said = memory_at(run, 1.0, 600)
    assert run.of(SignalApp, said) == [SignalApp(1, sent(run)[0].ticket, "USR1")]
    started = run.event("remedy_started", said)
    assert started == {
        "also": ("memory",),
        "metric": "memory",
        "action": "SIGUSR1",
        "at_level": "warning",
        "before": 60.0,
        "threshold": 50.0,
        "pid": 101,
        "message": "memory 60.0% reached warning (50.0%): SIGUSR1 to pid 101",
    }
    assert run.events(said).index("remedy_started") > run.events(said).index("level_changed")
    done(run, 1.5)
    # Down at once, but judged only once settle (20 s) is over, on a value measured then.
    memory_at(run, 10.0, 400)
    assert run.events(run.feed(30.0, TimerFired(30.0))) == []  # no fresh value: no verdict
    memory_at(run, 21.4, 400)  # measured before the settle time was over (queued late)
    assert remedy_events(run) == ["remedy_started"]
    said = memory_at(run, 31.0, 420)
    applied = run.event("remedy_applied", said)
    assert applied["before"] == 60.0
    assert applied["after"] == 42.0
    assert applied["threshold"] == 50.0
    assert applied["measured_after"] == 29.5
    assert applied["message"] == "memory 60.0% -> 42.0% after SIGUSR1: below warning (50.0%)"
    assert stops(run.commands) == []
    assert len(sent(run)) == 1


def test_a_failed_remedy_then_critical_goes_on_to_the_sustain_restart() -> None:
    run = Run(remedied())
    run.start()
    memory_at(run, 1.0, 600)
    done(run, 1.0)
    said = memory_at(run, 21.0, 590)
    failure = run.event("remedy_failed", said)
    assert (failure["before"], failure["after"], failure["threshold"]) == (60.0, 59.0, 50.0)
    assert failure["message"] == (
        "memory 60.0% -> 59.0% after SIGUSR1: still at or above warning (50.0%)"
    )
    [logged] = [c for c in said if getattr(c, "name", "") == "remedy_failed"]
    assert logged.level == "warning"
    memory_at(run, 25.0, 850)
    assert "restart_triggered" not in run.events(memory_at(run, 54.9, 860))
    said = memory_at(run, 55.0, 870)
    assert run.event("restart_triggered", said)["reason"].startswith("memory critical for 30s")
    assert stops(said) == [StopTree(1)]
    assert len(sent(run)) == 1  # critical is at or above warning, but the cooldown holds


def test_the_sustain_restart_is_not_held_up_by_a_remedy_being_judged() -> None:
    """With a settle longer than sustain, the restart comes first and the remedy is left
    unjudged, said so."""
    run = Run(remedied(level="critical", settle="40s"))
    run.start()
    memory_at(run, 1.0, 850)
    done(run, 1.0)
    said = memory_at(run, 31.0, 860)
    events = run.events(said)
    assert events.index("restart_triggered") < events.index("remedy_unchecked")
    unchecked = run.event("remedy_unchecked", said)
    assert unchecked["reason"] == "the child is being restarted"
    assert unchecked["message"] == "SIGUSR1 for memory not judged: the child is being restarted"


def test_at_most_one_remedy_per_cooldown_while_the_level_lasts() -> None:
    run = Run(remedied())
    run.start()
    memory_at(run, 1.0, 600)
    done(run, 1.0)
    memory_at(run, 21.0, 400)
    assert "remedy_applied" in run.events()
    for at in (30.0, 100.0, 300.9):
        assert sent(run, memory_at(run, at, 600)) == []
    assert len(sent(run, memory_at(run, 301.0, 600))) == 1
    done(run, 301.0)
    # Still at warning after the second one: it failed, and the next waits out the cooldown.
    assert "remedy_failed" in run.events(memory_at(run, 321.0, 600))
    assert sent(run, memory_at(run, 330.0, 600)) == []
    assert len(sent(run, memory_at(run, 601.0, 600))) == 1


def _starting() -> Run:
    run = Run(remedied())
    run.feed(0.0, Booted(0.0))
    return run


def _restarting() -> Run:
    remedies, diagnostics = {"memory": REMEDY}, {"enabled": True}
    run = Run(config(resources={"memory": MEMORY}, remedies=remedies, diagnostics=diagnostics))
    run.start()
    run.feed(0.5, Signalled("SIGUSR1", 0.5))  # its snapshot is being taken
    return run


def _backoff() -> Run:
    run = Run(remedied())
    run.start()
    run.exit(0.3)
    run.stopped(0.31)
    run.probe(0.4)
    run.exit(0.5)
    run.stopped(0.51)
    return run


@pytest.mark.parametrize(
    ("build", "state"),
    [
        (_starting, ChildState.STARTING),
        (_restarting, ChildState.RESTARTING),
        (_backoff, ChildState.BACKOFF),
    ],
)
def test_no_remedy_unless_the_child_runs(build: Any, state: ChildState) -> None:
    run = build()
    assert run.state is state
    said = memory_at(run, 1.0, 600)
    assert sent(run, said) == []
    assert remedy_events(run) == []


def test_a_level_reached_while_booting_is_remedied_once_the_child_runs() -> None:
    """The level, not its transition, calls for a remedy: a child that booted at warning
    gets it at its first sample once healthy."""
    run = _starting()
    memory_at(run, 0.05, 600)
    assert "level_changed" in run.events()
    assert sent(run) == []
    run.probe(0.1)
    said = memory_at(run, 1.0, 610)
    assert "level_changed" not in run.events(said)
    assert len(sent(run, said)) == 1


def test_a_remedy_for_a_child_gone_since_is_not_judged_and_its_outcome_is_ignored() -> None:
    run = Run(remedied())
    run.start()
    memory_at(run, 1.0, 600)
    [first] = sent(run)
    said = run.exit(2.0)
    assert run.event("remedy_unchecked", said)["reason"] == "the child exited"
    run.stopped(2.01)  # a crash: restarted at once
    run.probe(2.1)
    assert run.state is ChildState.RUNNING
    assert run.generation == 2
    # The first child's outcome comes late: nothing is said of it, nothing is judged.
    assert run.feed(2.2, RemedyDone(1, first.ticket, False, "the child is gone", 2.2)) == []
    # A new child is a new process: no cooldown carries over to it.
    [second] = sent(run, memory_at(run, 3.0, 600))
    assert second.generation == 2
    assert second.ticket != first.ticket
    assert run.feed(3.1, RemedyDone(1, second.ticket, True, None, 3.1)) == []  # not its child
    run.feed(3.2, RemedyDone(2, second.ticket, True, None, 3.2))
    assert run.event("remedy_applied", memory_at(run, 23.2, 300))["measured_after"] == 20.0


def test_a_stop_of_the_watchdog_leaves_a_remedy_unjudged() -> None:
    run = Run(remedied())
    run.start()
    memory_at(run, 1.0, 600)
    done(run, 1.0)
    said = run.feed(5.0, Signalled("SIGTERM", 5.0))
    assert run.event("remedy_unchecked", said)["reason"] == "the watchdog is stopping"


def test_a_post_goes_to_the_health_urls_origin_and_an_error_is_a_failure_at_once() -> None:
    run = Run(remedied(signal=None, post="/admin/cleanup?deep=1"))
    run.start()
    said = memory_at(run, 1.0, 600)
    [post] = run.of(PostApp, said)
    assert (post.url, post.timeout) == ("http://127.0.0.1:8000/admin/cleanup?deep=1", 10.0)
    assert run.event("remedy_started", said)["message"].endswith(
        ": POST http://127.0.0.1:8000/admin/cleanup?deep=1"
    )
    said = done(run, 1.2, ok=False, error="answered 404")
    failure = run.event("remedy_failed", said)
    assert (failure["after"], failure["error"]) == (None, "answered 404")
    assert failure["message"] == "POST /admin/cleanup?deep=1 for memory failed: answered 404"
    assert remedy_events(run) == ["remedy_started", "remedy_failed"]


def test_response_time_is_judged_on_an_answered_probe_not_a_refused_one() -> None:
    latency = {"warning": "1s", "critical": "3s", "sustain": "1h"}
    remedy = {"level": "warning", "post": "/admin/cleanup", "cooldown": "1m", "settle": "5s"}
    run = Run(config(resources={"response_time": latency}, remedies={"response_time": remedy}))
    run.start()
    said = run.probe(1.0, ok(1.0, latency=1.5))
    assert run.event("remedy_started", said)["message"] == (
        "response_time 1.50s reached warning (1.00s): POST http://127.0.0.1:8000/admin/cleanup"
    )
    done(run, 1.6)
    run.probe(7.0, failed(7.0))  # past settle, but a refusal measures no latency
    assert remedy_events(run) == ["remedy_started"]
    said = run.probe(8.0, ok(8.0, latency=0.2))
    assert run.event("remedy_applied", said)["message"] == (
        "response_time 1.50s -> 0.20s after POST /admin/cleanup: below warning (1.00s)"
    )


def _reload(run: Run, at: float, new: Config) -> None:
    run.feed(at, Signalled("SIGHUP", at))
    run.feed(at, ConfigRead(new, (), at))
    assert "config_reloaded" in run.events(run.feed(at, Reconfigured((), at)))


def test_a_reload_turns_remedies_on_changes_them_and_off() -> None:
    run = Run(config(resources={"memory": MEMORY}))
    run.start()
    assert sent(run, memory_at(run, 1.0, 600)) == []
    _reload(run, 2.0, remedied())
    assert run.of(SignalApp, memory_at(run, 3.0, 600))[0].signal == "USR1"
    done(run, 3.0)
    # A new action and a shorter cooldown apply from the next value; the one under way is
    # judged as it was sent.
    _reload(run, 4.0, remedied(signal="HUP", cooldown="30s", settle="10s"))
    failure = run.event("remedy_failed", memory_at(run, 23.0, 600))
    assert failure["action"] == "SIGUSR1"
    assert run.of(SignalApp, memory_at(run, 33.0, 600))[0].signal == "HUP"
    done(run, 33.0)
    _reload(run, 34.0, config(resources={"memory": MEMORY}))
    assert "remedy_applied" in run.events(memory_at(run, 44.0, 300))
    assert sent(run, memory_at(run, 100.0, 600)) == []
    assert len(sent(run)) == 2
