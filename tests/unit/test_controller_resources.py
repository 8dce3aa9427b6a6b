"""Scripted histories of the resource rules at work: sustained critical levels, slow and
failing answers, and samples that belong to a child already let go of."""

from __future__ import annotations

from tests.unit.histories import Run, config, failed, ok, stops
from watchdog.core.commands import Emit, StopTree
from watchdog.core.facts import Sampled
from watchdog.core.lifecycle import ChildState
from watchdog.core.observations import Sample

LIMIT = 1000 * 2**20  # memory percentages below are of 1000 MB


def sample(at: float, rss_mb: float, cpu: float = 0.0) -> Sample:
    return Sample(at, 1, int(rss_mb * 2**20), cpu, 1, 4, 2, LIMIT, "host", 10.0, 5.0, ())


def test_memory_critical_for_sustain_restarts_after_its_level_is_logged() -> None:
    run = Run(config(resources={"memory": {"warning": 50, "critical": 80, "sustain": "30s"}}))
    run.start()
    said = run.feed(1.0, Sampled(sample(1.0, 850)))
    change = run.event("level_changed", said)
    assert (change["metric"], change["status"]) == ("memory", "critical")
    [logged] = [c for c in run.of(Emit, said) if c.name == "level_changed"]
    assert logged.level == "error"
    assert change["message"] == "High memory usage detected: 85.0%"
    assert run.events(run.feed(30.9, Sampled(sample(30.9, 860)))) == ["resource_sample"]
    said = run.feed(31.0, Sampled(sample(31.0, 870)))
    restart = run.event("restart_triggered", said)
    assert restart["reason"] == (
        "memory critical for 30s: High memory usage detected: 87.0%"
    )
    assert stops(said) == [StopTree(1)]


def test_memory_back_below_critical_restarts_nothing() -> None:
    run = Run(config(resources={"memory": {"warning": 50, "critical": 80, "sustain": "30s"}}))
    run.start()
    run.feed(1.0, Sampled(sample(1.0, 850)))
    run.feed(20.0, Sampled(sample(20.0, 600)))
    run.feed(40.0, Sampled(sample(40.0, 850)))
    assert "restart_triggered" not in run.events(run.feed(60.0, Sampled(sample(60.0, 850))))


def test_samples_of_the_old_child_never_restart_the_new_one() -> None:
    """Samples taken while the old tree was being stopped (queued before the new child
    started) say nothing about the new child."""
    run = Run(config(resources={"memory": {"max_rss": "150MB"}}))
    run.start()
    said = run.feed(1.0, Sampled(sample(1.0, 200)))
    assert "restart_triggered" in run.events(said)
    run.stopped(1.6)
    assert run.state is ChildState.STARTING
    late = [run.feed(1.7, Sampled(sample(at, 260))) for at in (1.2, 1.4, 1.5)]
    assert all("restart_triggered" not in run.events(said) for said in late)
    run.probe(1.8)
    assert "restart_triggered" not in run.events(run.feed(2.0, Sampled(sample(2.0, 100))))


def test_slow_answers_for_sustain_restart() -> None:
    run = Run(
        config(resources={"response_time": {"warning": "1s", "critical": "2s", "sustain": "5s"}})
    )
    run.start()
    said = run.probe(1.0, ok(1.0, latency=2.5))
    assert run.event("level_changed", said)["message"] == (
        "SLOW REQUEST: health probe took 2.50s"
    )
    assert "restart_triggered" not in run.events(run.probe(5.0, ok(5.0, latency=2.5)))
    said = run.probe(6.0, ok(6.0, latency=3.0))
    assert run.event("restart_triggered", said)["reason"].startswith(
        "response_time critical for 5.0s"
    )
    assert "probe_failed" not in run.events()  # slow, never failed


def test_error_rate_restarts_and_the_new_childs_window_starts_empty() -> None:
    errors = {"warning": 20, "critical": 40, "sustain": "3s", "window": 4, "min_probes": 4}
    run = Run(config(resources={"error_rate": errors}))
    run.start()
    at = 1.0
    while "restart_triggered" not in run.events():
        run.probe(at, failed(at, "unexpected status 500") if int(at) % 2 else ok(at))
        at += 1.0
    assert run.event("restart_triggered")["reason"].startswith("error_rate critical for")
    assert all("consecutive" not in e for e in run.events())
    run.stopped(at)
    run.probe(at + 0.1)  # healthy again
    # The old child's failures are gone: the new one is graded once its own window is full.
    for offset in (1.0, 2.0, 3.0):
        said = run.probe(at + offset, failed(at + offset, "unexpected status 500"))
        assert "level_changed" not in run.events(said)
