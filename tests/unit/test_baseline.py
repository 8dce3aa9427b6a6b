"""The app against its own baseline: learned after a warm-up, then a rolling median graded."""

from __future__ import annotations

import pytest

from tests.unit.histories import Run, config, failed, ok
from tests.unit.test_metrics import feed, new_metrics, value
from watchdog.config.resources import DegradationConfig
from watchdog.core.commands import Emit, StopTree, WakeAt
from watchdog.core.facts import (
    ConfigRead,
    Probed,
    Reconfigured,
    Sampled,
    Signalled,
    TimerFired,
)
from watchdog.core.observations import ProbeResult, Sample
from watchdog.core.rules.baseline import Baseline, Degraded, DegradedTooLong, Learned, Recovered
from watchdog.outputs.events import Event

SETTINGS = DegradationConfig(ratio=3.0, floor=0.05, sustain=10.0, warmup=5.0, probes=5, window=3)


def answer(at: float, latency: float) -> ProbeResult:
    return ProbeResult(ok=True, status=200, latency=latency, error=None, at=at)


def learned(latency: float = 0.02) -> Baseline:
    baseline = Baseline(SETTINGS)
    baseline.child_healthy(0.0)
    for at in range(6, 11):
        baseline.on_probe(answer(float(at), latency))
    return baseline


def test_answers_in_the_warm_up_are_not_the_baseline() -> None:
    baseline = Baseline(SETTINGS)
    baseline.child_healthy(0.0)
    for at in range(5):  # 0..4: inside the 5 s warm-up
        assert baseline.on_probe(answer(float(at), 0.5)) == []
    findings = [baseline.on_probe(answer(5.0 + i, 0.02)) for i in range(5)]
    assert findings[-1] == [Learned(0.02, 0.02, 5)]
    assert baseline.learned == Learned(0.02, 0.02, 5)


def test_a_rolling_median_at_ratio_times_the_baseline_and_over_the_floor_degrades() -> None:
    baseline = learned(0.02)
    assert baseline.on_probe(answer(11.0, 0.07)) == []  # the window is not full yet
    assert baseline.on_probe(answer(12.0, 0.07)) == []
    [finding] = baseline.on_probe(answer(13.0, 0.07))
    assert finding == Degraded(0.02, 0.07)
    assert baseline.ratio == pytest.approx(3.5)
    assert baseline.on_probe(answer(22.9, 0.07)) == []
    [too_long] = baseline.on_probe(answer(23.0, 0.07))
    assert isinstance(too_long, DegradedTooLong)
    assert too_long.reason == (
        "planned: degraded, probe latency 70ms is 3.5x its baseline 20ms for 10s"
    )
    assert baseline.on_probe(answer(40.0, 0.07)) == []  # said once per degradation


def test_a_small_app_tripling_its_few_milliseconds_is_not_degraded() -> None:
    """2 ms -> 6 ms is three times, and still nothing a client notices: the floor holds."""
    baseline = learned(0.002)
    for at in (11.0, 12.0, 13.0, 30.0):
        assert baseline.on_probe(answer(at, 0.006)) == []


def test_back_under_it_recovers_and_the_sustain_starts_over() -> None:
    baseline = learned(0.02)
    for at in (11.0, 12.0, 13.0):
        baseline.on_probe(answer(at, 0.1))
    findings = [baseline.on_probe(answer(at, 0.02)) for at in (14.0, 15.0)]
    assert findings == [[], [Recovered(0.02, 0.02)]]


def test_refused_probes_say_nothing_of_speed_and_timeouts_count_as_slow() -> None:
    baseline = learned(0.02)
    refused = ProbeResult(ok=False, status=None, latency=0.0, error="refused", at=11.0)
    assert baseline.on_probe(refused) == []
    findings = []
    for at in (12.0, 13.0, 14.0):
        slow = ProbeResult(False, None, 0.5, "no answer within 500ms", at, timed_out=True)
        findings = baseline.on_probe(slow)
    assert findings == [Degraded(0.02, 0.5)]


def test_a_new_child_learns_its_own() -> None:
    baseline = learned(0.02)
    baseline.child_healthy(100.0)
    assert baseline.learned is None
    assert baseline.current is None


DEGRADING = {"ratio": 3, "floor": "20ms", "sustain": "3s", "warmup": "1s", "probes": 5, "window": 3}


def _degrading(**resources: object) -> Run:
    run = Run(config(resources={"degradation": DEGRADING, **resources}))
    run.start()
    for at in range(2, 7):
        run.feed(float(at), Probed(1, ok(float(at), latency=0.01)))
    return run


def test_a_lasting_degradation_is_a_planned_restart() -> None:
    run = _degrading()
    assert "baseline_learned" in run.events()
    for at in range(7, 10):
        run.feed(float(at), Probed(1, ok(float(at), latency=0.1)))
    assert "latency_degraded" in run.events()
    said = []
    for at in range(10, 13):
        said = run.feed(float(at), Probed(1, ok(float(at), latency=0.1)))
    assert run.event("restart_planned", said)["reason"].startswith("planned: degraded")
    assert StopTree(1) in said


def test_in_a_window_a_degradation_waits_unless_it_is_also_sick() -> None:
    run = Run(config(restart={"window": "03:00-04:00"}, resources={"degradation": DEGRADING}))
    run.start()
    for at in range(2, 7):
        run.feed(float(at), Probed(1, ok(float(at), latency=0.01)))
    said = []
    for at in range(7, 13):
        said = run.feed(float(at), Probed(1, ok(float(at), latency=0.1)))
    assert "restart_planned" not in run.events()
    assert WakeAt(13.0) in said  # the time of day is looked at on the next wake-up
    said = run.feed(13.0, TimerFired(13.0, time_of_day=12 * 3600.0))
    assert "restart_planned" not in run.events(said)
    said = run.feed(15 * 3600.0, TimerFired(15 * 3600.0, time_of_day=3 * 3600.0 + 60))
    assert "restart_planned" in run.events(said)


def test_failed_probes_keep_the_baseline_untouched() -> None:
    run = _degrading()
    run.probe(7.0, failed(7.0))
    assert run.controller.baseline.learned is not None


def test_a_reload_keeps_a_degradation_that_waits_for_the_window() -> None:
    """A SIGHUP that changes nothing of it (here: the log level) must not forget it."""
    window = {"window": "03:00-04:00"}
    run = Run(config(restart=window, resources={"degradation": DEGRADING}))
    run.start()
    for at in range(2, 7):
        run.feed(float(at), Probed(1, ok(float(at), latency=0.01)))
    for at in range(7, 13):
        run.feed(float(at), Probed(1, ok(float(at), latency=0.1)))
    run.feed(13.0, TimerFired(13.0, time_of_day=12 * 3600.0))  # noon: it waits
    run.feed(14.0, Signalled("SIGHUP", 14.0))
    new = config(restart=window, resources={"degradation": DEGRADING}, logging={"level": "debug"})
    run.feed(14.0, ConfigRead(new, (), 14.0))
    run.feed(14.0, Reconfigured((), 14.0))
    assert run.controller.view()["planned_restart"]["reason"].startswith("planned: degraded")
    said = run.feed(15 * 3600.0, TimerFired(15 * 3600.0, time_of_day=3 * 3600.0 + 60))
    assert run.event("restart_planned", said)["reason"].startswith("planned: degraded")


def test_a_childs_baseline_goes_with_it_from_status_samples_and_metrics() -> None:
    """The gauges say 'this child': a new child's, until it learns its own, are none."""
    run = _degrading()
    for at in range(7, 10):
        run.feed(float(at), Probed(1, ok(float(at), latency=0.1)))  # 10x its baseline
    run.feed(10.0, Sampled(_sample(10.0)))
    metrics = new_metrics()
    emitted = [Event(c.name, fields=dict(c.fields)) for c in run.of(Emit)]
    assert value(feed(metrics, *emitted), "watchdog_probe_latency_ratio") == 10.0
    run.feed(11.0, Signalled("SIGUSR1", 11.0))
    run.stopped(11.2)
    assert run.controller.view()["baseline"] is None  # the new child boots: nothing learned
    run.probe(11.3)
    said = run.feed(12.0, Sampled(_sample(12.0)))
    families = feed(metrics, *[Event(c.name, fields=dict(c.fields)) for c in run.of(Emit, said)])
    for gauge in ("ratio", "median_seconds", "baseline_seconds"):
        assert value(families, f"watchdog_probe_latency_{gauge}") is None, gauge
    assert value(families, "watchdog_child_rss_baseline_bytes") is None


def _sample(at: float) -> Sample:
    return Sample(at, 1, 2**20, 0.0, 1, 4, 2, 2**30, "host", 10.0, 10.0, ())
