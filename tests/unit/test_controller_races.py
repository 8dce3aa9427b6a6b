"""Scripted histories where two causes meet: a reload during an overlap restart, and
throttled restarts recommended by one cause while another is already pending."""

from __future__ import annotations

from tests.unit.histories import Run, answers, config, failed, stops
from watchdog.core.commands import ReadConfig, Spawn, StopTree
from watchdog.core.facts import (
    Accepting,
    ConfigRead,
    Reconfigured,
    Sampled,
    Signalled,
    StoppedAccepting,
    TimerFired,
)
from watchdog.core.lifecycle import ChildState
from watchdog.core.observations import Sample

OVERLAP = {"restart": {"strategy": "overlap"}}
LISTEN = "127.0.0.1:8000"
LIMIT = 1000 * 2**20


def _sample(at: float, rss_mb: float) -> Sample:
    return Sample(at, 1, int(rss_mb * 2**20), 0.0, 1, 4, 2, LIMIT, "host", 10.0, 5.0, ())


def _reload(run: Run, at: float, app: dict) -> list:
    said = run.feed(at, Signalled("SIGHUP", at))
    assert ReadConfig() in said
    new = config(app={"listen": LISTEN, **app}, **OVERLAP)
    run.feed(at + 0.01, ConfigRead(new, (), at + 0.01))
    return run.feed(at + 0.02, Reconfigured((), at + 0.02))


def _spawned(run: Run) -> list[int]:
    return [c.generation for c in run.of(Spawn)]


def test_a_new_app_section_read_during_a_handover_still_restarts_the_app() -> None:
    """The overlap's new child was spawned with the old app section before the reload was
    read: once it has taken over, it runs the old command, so the reload's restart is due.

    Seen with a real uvicorn app: a reload setting `app.env` during the handover left the
    new child without the variable, and no restart followed; `config_reloaded` said `app`.
    """
    run = Run(config(app={"listen": LISTEN}, **OVERLAP))
    run.start()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    assert run.state is ChildState.HANDOVER
    said = _reload(run, 1.1, {"env": {"MARK": "reloaded"}})
    assert run.event("config_reloaded", said)["changed"] == ["app"]
    run.feed(1.3, Accepting(2, 1.3))
    run.feed(1.35, StoppedAccepting(1, paused=1, unread=0, took=0.05))
    run.stopped(1.8, generation=1)
    run.probe(1.9)
    # Generation 2 runs the old app section; a third child must follow (throttle aside:
    # min_interval is 5m here, so at least a recommendation, and the restart once allowed).
    for at in (2.0, 400.0):
        run.feed(at, TimerFired(at))
    assert _spawned(run)[-1] == 3, (
        f"spawned {_spawned(run)}; events after the handover: {run.events()[-8:]}"
    )


def test_a_throttled_operator_restart_is_not_withdrawn_by_good_probes() -> None:
    """`watchdog restart` answered `throttled` with a time: a probe recovering from its own
    failures must not cancel what the operator asked for (only a restart makes it go)."""
    run = Run()
    run.start()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    run.stopped(1.2)
    run.probe(1.4)  # healthy; the throttle now runs until 301.0
    for at in (2.0, 3.0, 4.0):
        run.probe(at, failed(at))
    assert "RESTART_RECOMMENDED" in run.events()
    said = run.feed(5.0, Signalled("SIGUSR2", 5.0))
    assert answers(said) == [("SIGUSR2", "throttled")]
    run.probe(6.0)  # the probes recover: their own recommendation goes
    said = run.feed(301.0, TimerFired(301.0))
    assert stops(said) == [StopTree(2)], f"events: {run.events()[-6:]}"


def test_a_sustained_memory_restart_is_not_withdrawn_by_good_probes() -> None:
    """README: an app short of memory still answers its probes, so those do not cancel a
    memory restart; here the probes' recommendation came first and swallowed memory's."""
    run = Run(config(resources={"memory": {"warning": 50, "critical": 80, "sustain": "30s"}}))
    run.start()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    run.stopped(1.2)
    run.probe(1.4)
    for at in (2.0, 3.0, 4.0):
        run.probe(at, failed(at))
    assert "RESTART_RECOMMENDED" in run.events()
    run.feed(5.0, Sampled(_sample(5.0, 900)))
    run.feed(36.0, Sampled(_sample(36.0, 900)))  # critical for its sustain: a restart is due
    run.probe(37.0)  # the probes recover
    for at in (60.0, 120.0):
        run.feed(at, Sampled(_sample(at, 900)))  # still critical all along
    said = run.feed(301.0, TimerFired(301.0))
    said += run.feed(302.0, Sampled(_sample(302.0, 900)))
    assert stops(said) == [StopTree(2)], f"events: {run.events()[-8:]}"
