"""Resource rules inside the policy: restarts from lasting critical states, caps, forecasts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from watchdog.config import parse
from watchdog.config.resources import RSS_HISTORY_POINTS
from watchdog.core.decisions import RecommendationWithdrawn, RecommendRestart, Restart
from watchdog.core.observations import DiskUsage, ProbeResult, Sample
from watchdog.core.rules.levels import LevelChanged
from watchdog.core.rules.policy import Policy
from watchdog.core.rules.resources import DiskCritical, MemoryTrend, OverCap, format_size_short

GB = 2**30
LIMIT = 10 * GB


def config(**resources: object):
    raw = {
        "app": {"command": ["x"]},
        "resources": resources,
        "restart": {"min_interval": "5m", "predictive": True, "predictive_horizon": "1h"},
    }
    return parse(raw, Path("/tmp"))


def sample(
    at: float,
    rss: float = 1 * GB,
    *,
    cpu: float = 10.0,
    disk: float = 50.0,
    host_memory: float = 40.0,
    host_cpu: float = 20.0,
) -> Sample:
    return Sample(
        at=at,
        procs=3,
        tree_rss=int(rss),
        tree_cpu=cpu,
        threads=9,
        fds=20,
        cpus=2,
        memory_limit=LIMIT,
        memory_limit_source="host",
        host_memory=host_memory,
        host_cpu=host_cpu,
        disks=(DiskUsage("/", disk, 10 * GB),),
    )


def ok(at: float, latency: float = 0.01) -> ProbeResult:
    return ProbeResult(ok=True, status=200, latency=latency, error=None, at=at)


def running(cfg=None, at: float = 0.0) -> Policy:
    cfg = cfg or config()
    policy = Policy(cfg.health, cfg.restart, cfg.resources)
    policy.child_started(at)
    policy.on_probe(ok(at + 1))
    return policy


def test_memory_critical_for_sustain_restarts() -> None:
    """Memory over critical for a minute (the memory default) restarts the child."""
    policy = running()
    [change] = policy.on_sample(sample(10, rss=0.95 * LIMIT))
    assert isinstance(change, LevelChanged)
    assert change.message == "High memory usage detected: 95.0%"
    assert policy.on_sample(sample(69, rss=0.95 * LIMIT)) == []
    [restart] = policy.on_sample(sample(70, rss=0.95 * LIMIT))
    assert isinstance(restart, Restart)
    assert restart.reason.startswith("memory critical for 60s")


def memory_critical_while_throttled() -> tuple[Policy, RecommendRestart]:
    """An operator restart at 5, then memory critical for the sustain: only recommended."""
    policy = running()
    policy.restart_requested("operator", 5)
    policy.child_started(6)
    policy.on_probe(ok(7))
    policy.on_sample(sample(10, rss=0.95 * LIMIT))
    [recommended] = policy.on_sample(sample(70, rss=0.95 * LIMIT))
    assert isinstance(recommended, RecommendRestart)
    return policy, recommended


def test_sustained_restart_obeys_the_throttle() -> None:
    """A lasting critical state within min_interval of a restart is only recommended."""
    _, recommended = memory_critical_while_throttled()
    assert recommended.at == 305


def test_startup_spike_does_not_count() -> None:
    """High memory while the child is still starting never trips a restart."""
    cfg = config()
    policy = Policy(cfg.health, cfg.restart, cfg.resources)
    policy.child_started(0)
    for at in range(1, 200, 10):
        decisions = policy.on_sample(sample(at, rss=0.99 * LIMIT))
        assert not any(isinstance(d, Restart) for d in decisions)


def test_old_childs_critical_time_does_not_count_for_the_new_one() -> None:
    """A restart starts the sustain timer afresh."""
    policy = running()
    policy.on_sample(sample(10, rss=0.95 * LIMIT))
    policy.restart_requested("operator", 50)
    policy.child_started(51)
    policy.on_probe(ok(52))
    [afresh] = policy.on_sample(sample(71, rss=0.95 * LIMIT))  # its own critical, no restart
    assert isinstance(afresh, LevelChanged)
    assert (afresh.old.label, afresh.new.label) == ("normal", "critical")
    assert policy.on_sample(sample(120, rss=0.95 * LIMIT)) == []


def test_max_rss_trips_at_once_without_throttle() -> None:
    """Crossing max_rss is an immediate kill, even right after another restart."""
    cfg = config(memory={"max_rss": "2GB"})
    policy = running(cfg)
    policy.restart_requested("operator", 5)
    policy.child_started(6)
    policy.on_probe(ok(7))
    decisions = policy.on_sample(sample(8, rss=2.5 * GB))
    assert isinstance(decisions[-1], OverCap)
    assert "max_rss 2GB" in decisions[-1].reason


def test_disk_critical_cleans_up_never_restarts() -> None:
    """A full disk is reported once and asks for a clean-up, not a restart."""
    policy = running()
    first = policy.on_sample(sample(10, disk=97))
    assert any(isinstance(d, DiskCritical) for d in first)
    later = [d for at in range(20, 2000, 10) for d in policy.on_sample(sample(at, disk=97))]
    assert not any(isinstance(d, Restart | RecommendRestart | DiskCritical) for d in later)


def test_host_memory_is_context_only() -> None:
    """High host memory is logged as a transition and never restarts the child."""
    policy = running()
    changes = policy.on_sample(sample(10, host_memory=95))
    assert [c.metric for c in changes if isinstance(c, LevelChanged)] == ["host_memory"]
    later = [d for at in range(20, 2000, 10) for d in policy.on_sample(sample(at, host_memory=95))]
    assert later == []


def host_changes(policy: Policy, at: float, **host: float) -> list[tuple[str, str, bool]]:
    changes = policy.on_sample(sample(at, **host))
    return [(c.metric, c.new.label, c.context) for c in changes if isinstance(c, LevelChanged)]


def test_the_host_is_graded_by_its_own_thresholds_as_context() -> None:
    """A busy host is not a sick app: host figures have their own (higher) thresholds, not
    the app's, and are context (no verdict, no alert) unless resources.host.alert."""
    policy = running()
    assert host_changes(policy, 10, host_memory=85.0, host_cpu=92.0) == [
        ("host_cpu", "warning", True)  # 85 % is warning for the app's memory, not the host's
    ]
    assert host_changes(policy, 20, host_memory=95.0, host_cpu=98.0) == [
        ("host_memory", "critical", True),
        ("host_cpu", "critical", True),
    ]
    own = running(config(host={"cpu": {"warning": 30, "critical": 40}, "alert": True}))
    assert host_changes(own, 10, host_cpu=35.0) == [("host_cpu", "warning", False)]


def test_a_reload_can_make_the_host_count() -> None:
    """resources.host.alert applies from the next transition after a reload."""
    policy = running()
    reloaded = config(host={"alert": True})
    policy.reconfigure(reloaded.health, reloaded.restart, reloaded.resources)
    assert host_changes(policy, 10, host_cpu=99.0) == [("host_cpu", "critical", False)]


def test_a_new_child_shows_no_level_of_the_old_one() -> None:
    """A fresh start: the old child's levels and figures are gone, the host's stay."""
    policy = running(config(response_time={"sustain": "1h"}))
    policy.on_probe(ok(5, latency=2.5))
    policy.on_sample(sample(10, rss=0.85 * LIMIT, host_cpu=95.0))
    rules = policy.resources
    assert rules is not None
    assert (rules.response_time.level.label, rules.memory.level.label) == ("warning", "warning")
    policy.restart_requested("operator", 20)
    policy.child_started(21)
    for metric in rules.child_metrics():
        assert (metric.metric, metric.level.label, metric.value) == (metric.metric, "normal", None)
    assert (rules.host_cpu.level.label, rules.host_cpu.value) == ("warning", 95.0)
    policy.on_probe(ok(22))  # its first healthy answer
    [back] = policy.on_probe(ok(23))
    assert (back.metric, back.old.label, back.new.label) == ("response_time", "warning", "normal")


def test_cpu_is_percent_of_the_machine_unless_per_core() -> None:
    """One busy core of two is 50 % of the machine, 100 % per core."""
    machine = running(config(cpu={"warning": 40, "critical": 60}))
    assert machine.on_sample(sample(10, cpu=100))[0].new.label == "warning"
    per_core = running(config(cpu={"warning": 40, "critical": 60, "per_core": True}))
    assert per_core.on_sample(sample(10, cpu=100))[0].new.label == "critical"


def test_slow_probes_and_error_rate() -> None:
    """Slow answers grade response time; failures among recent probes grade error rate."""
    cfg = config(
        error_rate={"window": 10, "min_probes": 10, "sustain": "1s"},
        response_time={"sustain": "1s"},
    )
    policy = running(cfg)
    [slow] = policy.on_probe(ok(10, latency=2.5))
    assert slow.message == "SLOW REQUEST: health probe took 2.50s"
    failed = dataclasses.replace(ok(0), ok=False, status=500, error="unexpected status 500")
    decisions = []
    for index in range(20):
        probe = dataclasses.replace(failed if index % 3 == 0 else ok(0), at=20 + index)
        decisions += policy.on_probe(probe)
    rates = [d for d in decisions if isinstance(d, LevelChanged) and d.metric == "error_rate"]
    assert rates
    assert rates[0].new.label == "critical"
    restarts = [d for d in decisions if isinstance(d, Restart)]
    assert restarts
    assert restarts[0].reason.startswith("error_rate critical")


def test_probes_timing_out_grade_response_time_critical() -> None:
    """With timeout = critical = 5s, only timed-out probes can show critical latency."""
    policy = running(config(response_time={"sustain": "1m"}))
    timed_out = ProbeResult(
        ok=False, status=None, latency=5.0, error="no answer within 5s", at=10, timed_out=True
    )
    [change] = policy.on_probe(timed_out)
    assert isinstance(change, LevelChanged)
    assert (change.metric, change.new.label) == ("response_time", "critical")
    refused = dataclasses.replace(timed_out, latency=0.001, timed_out=False, at=20)
    assert policy.on_probe(refused) == []  # a refused connection is not a fast answer


def test_leak_forecast_and_predictive_restart() -> None:
    """A steady climb is forecast, and with predictive on, restarted an hour before critical."""
    cfg = config(trend={"every": "1m", "min_samples": 30, "min_span": "30m"})
    policy = running(cfg)
    trends, restarts = [], []
    for minute in range(240):
        # From 7 GiB at 600 MiB an hour: critical (90 % of 10 GiB) at minute ~205.
        rss = 7 * GB + 600 * 2**20 * minute / 60
        for decision in policy.on_sample(sample(minute * 60, rss=rss)):
            trends += [decision] if isinstance(decision, MemoryTrend) else []
            restarts += [(minute, decision)] if isinstance(decision, Restart) else []
        if restarts:
            break
    assert trends[0].trend.mb_per_hour == pytest.approx(600, rel=0.02)
    assert trends[0].until_critical / 3600 == pytest.approx((205 - 30) / 60, rel=0.05)
    minute, restart = restarts[0]
    assert restart.reason.startswith("memory forecast: critical in")
    assert 143 <= minute <= 147  # one hour (the horizon) before minute ~205


def test_rss_history_is_bounded_however_fast_it_is_sampled() -> None:
    """Sampled every 10 ms, a 3 h window would hold a million points (the self-soak's slow
    RSS growth): thinned, it keeps at most RSS_HISTORY_POINTS and still spans the window,
    and the forecast still comes. (Here: 50 ms samples, a 10 min window.)"""
    cfg = config(trend={"window": "10m", "every": "1m", "min_samples": 30, "min_span": "5m"})
    policy = running(cfg)
    resources = policy.resources
    assert resources is not None
    trends = []
    for step in range(15_000):  # 50 ms apart: 750 s, longer than the window
        at = step * 0.05
        rss = 1 * GB + 100 * 2**20 * at / 3600
        trends += [d for d in policy.on_sample(sample(at, rss=rss)) if isinstance(d, MemoryTrend)]
    history = resources.rss_history
    assert len(history) <= RSS_HISTORY_POINTS + 1  # 12,000 samples fell in the window
    assert history[-1][0] - history[0][0] >= 600 - 600 / RSS_HISTORY_POINTS - 0.05
    assert trends, "a steady climb is still forecast"
    assert trends[-1].trend.mb_per_hour == pytest.approx(100, rel=0.02)


def test_sample_of_the_old_tree_does_not_count_for_the_new_child() -> None:
    """A sample taken before the new child started (queued during the stop) is not its."""
    policy = running(config(memory={"max_rss": "2GB"}))
    policy.child_started(100)
    decisions = policy.on_sample(sample(99.5, rss=3 * GB))
    assert not any(isinstance(d, OverCap) for d in decisions)
    assert any(isinstance(d, OverCap) for d in policy.on_sample(sample(101, rss=3 * GB)))


def test_one_sample_never_restarts_and_then_kills_the_new_child() -> None:
    """A sample that trips the sustain rule and the cap at once stops the child only once."""
    raw = {
        "app": {"command": ["x"]},
        "restart": {"min_interval": "100ms"},
        "resources": {"memory": {"sustain": "10s", "max_rss": "9.6GB"}},
    }
    cfg = parse(raw, Path("/tmp"))
    policy = running(cfg)
    policy.on_sample(sample(10, rss=0.95 * LIMIT))
    decisions = policy.on_sample(sample(20, rss=0.97 * LIMIT))
    stops = [d for d in decisions if isinstance(d, Restart | OverCap)]
    assert len(stops) == 1
    assert isinstance(stops[0], Restart)
    assert stops[0].reason.startswith("memory critical for 10s")


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (150 * 2**20, "150MB"),
        (154024 * 1024, "150.4MB"),
        (int(9.6 * GB), "9.6GB"),
        (2 * GB, "2GB"),
        (1000, "1000B"),
    ],
)
def test_sizes_in_reasons_read_as_mb_or_gb(size: int, shown: str) -> None:
    """A size in a restart reason is in MB or GB with one decimal, whatever its bytes."""
    assert format_size_short(size) == shown


def test_throttled_memory_restart_survives_good_probes() -> None:
    """An app short of memory still answers: its probes do not cancel the restart."""
    policy, _ = memory_critical_while_throttled()
    assert policy.on_probe(ok(75)) == []
    [restart] = policy.on_tick(305)
    assert isinstance(restart, Restart)
    assert restart.reason.startswith("memory critical")


def test_throttled_memory_restart_withdrawn_when_memory_recovers() -> None:
    """The recommendation goes when memory itself leaves critical."""
    policy, _ = memory_critical_while_throttled()
    decisions = policy.on_sample(sample(80, rss=0.5 * LIMIT))
    assert any(isinstance(d, RecommendationWithdrawn) for d in decisions)
    assert policy.on_tick(305) == []


def test_a_reload_keeps_the_sustain_timer_and_uses_new_thresholds() -> None:
    """Reloading mid-way through a critical spell neither restarts its clock nor ignores it."""
    policy = running()
    policy.on_sample(sample(10, rss=0.95 * LIMIT))
    policy.on_sample(sample(50, rss=0.95 * LIMIT))
    reloaded = config(cpu={"warning": 50, "critical": 60})
    policy.reconfigure(reloaded.health, reloaded.restart, reloaded.resources)
    [cpu_change] = policy.on_sample(sample(60, rss=0.95 * LIMIT, cpu=130.0))
    assert isinstance(cpu_change, LevelChanged)
    assert (cpu_change.metric, cpu_change.new.label) == ("cpu", "critical")
    [restart] = policy.on_sample(sample(70, rss=0.95 * LIMIT, cpu=130.0))
    assert isinstance(restart, Restart)
    assert restart.reason.startswith("memory critical for 60s")


def test_a_reload_that_raises_a_threshold_regrades_the_next_sample() -> None:
    """A critical level under the old thresholds becomes normal under the new ones."""
    policy = running()
    policy.on_sample(sample(10, rss=0.85 * LIMIT))
    reloaded = config(memory={"warning": 88, "critical": 95})
    policy.reconfigure(reloaded.health, reloaded.restart, reloaded.resources)
    [change] = policy.on_sample(sample(20, rss=0.85 * LIMIT))
    assert isinstance(change, LevelChanged)
    assert (change.old.label, change.new.label) == ("warning", "normal")


def test_a_quick_rss_check_judges_only_the_cap() -> None:
    """on_rss stops the child over max_rss, at once and only once; under it, nothing."""
    policy = running(config(memory={"max_rss": "2GB"}))
    assert policy.on_rss(2 * GB - 1, 10) == []
    [over] = policy.on_rss(2 * GB + 5 * 2**20, 11)
    assert isinstance(over, OverCap)
    assert over.reason == "memory over its cap: 2GB >= max_rss 2GB"
    assert policy.on_rss(3 * GB, 12) == []  # already being stopped
    assert running().on_rss(100 * GB, 10) == []  # no cap configured
