"""The metrics output fed scripted events, its text read back with Prometheus's own parser."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from watchdog.config import parse
from watchdog.config.operations import MetricsConfig
from watchdog.core.decisions import Restart
from watchdog.core.observations import DiskUsage, ProbeResult, Sample
from watchdog.core.rules.policy import Policy
from watchdog.core.rules.resources import OverCap
from watchdog.outputs.events import Event
from watchdog.outputs.metrics import BUCKETS, FAMILIES, RESTART_KINDS, Metrics, restart_kind

WALL = 1_700_000_000.0
GB = 2**30


class Reports:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, /, **fields: Any) -> None:
        self.calls.append((name, fields))


def new_metrics(app: str = "api") -> Metrics:
    return Metrics(MetricsConfig(listen=None, allow_remote=False, textfile=None), app, Reports())


def event(name: str, at: float = 0.0, wall: float = WALL, **fields: Any) -> Event:
    return Event(name=name, fields=fields, at=at, wall=wall)


def feed(metrics: Metrics, *events: Event) -> dict[str, Any]:
    for item in events:
        metrics.on_event(item)
    return {family.name: family for family in text_string_to_metric_families(metrics.render())}


def value(families: dict[str, Any], sample: str, **labels: str) -> float | None:
    """The value of the one sample called `sample` whose labels include `labels`."""
    family = sample.removesuffix("_total")
    for prefix in ("_bucket", "_sum", "_count"):
        family = family.removesuffix(prefix)
    found = [
        s.value
        for s in families[family].samples
        if s.name == sample and labels.items() <= s.labels.items()
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_a_fresh_output_has_every_family_with_help_and_type() -> None:
    """Before any event: every family is declared, counters at zero, unmeasured gauges empty."""
    started = time.time()
    metrics = new_metrics()
    text = metrics.render()
    families = feed(metrics)
    for name, (kind, _, _) in FAMILIES.items():
        assert f"# HELP {name} " in text
        assert f"# TYPE {name} {kind}\n" in text
        assert families[name.removesuffix("_total")].type == kind
    assert value(families, "watchdog_up", app="api") == 1
    assert started - 1 <= value(families, "watchdog_start_time_seconds") <= time.time()
    assert value(families, "watchdog_child_up") == 0
    for kind in RESTART_KINDS:
        assert value(families, "watchdog_restarts_total", reason=kind) == 0
    assert value(families, "watchdog_probes_total", result="failed") == 0
    assert value(families, "watchdog_child_rss_bytes") is None
    assert value(families, "watchdog_last_restart_timestamp_seconds") is None
    assert value(families, "watchdog_probe_duration_seconds_bucket", le="+Inf") == 0


def test_start_time_is_the_first_events_wall_time() -> None:
    """watchdog_started is the first event: its wall time is the start, later ones are not."""
    metrics = new_metrics()
    families = feed(metrics, event("watchdog_started", wall=WALL), event("x", wall=WALL + 60))
    assert value(families, "watchdog_start_time_seconds") == WALL


@pytest.mark.parametrize(
    "down", ["child_exited", "child_stopping", "child_stopped", "crash_loop", "spawn_failed"]
)
def test_child_up_only_between_healthy_and_the_next_down_event(down: str) -> None:
    """Started is not up; healthy is; any stop, death or failure to spawn is down again."""
    metrics = new_metrics()
    assert value(feed(metrics, event("child_started", pid=1)), "watchdog_child_up") == 0
    assert value(feed(metrics, event("child_healthy", pid=1)), "watchdog_child_up") == 1
    assert value(feed(metrics, event("probe_ok", latency=0.01)), "watchdog_child_up") == 1
    assert value(feed(metrics, event(down)), "watchdog_child_up") == 0


# The reasons as the core's policy, levels, resources and requests word them.
REASONS = [
    ("3 consecutive failed probes (no answer within 5s)", "probes"),
    ("3 consecutive failed probes (status 503)", "probes"),
    ("memory critical for 60s: High memory usage detected: 95.0%", "memory"),
    ("cpu critical for 5m: High CPU usage detected: 99.0%", "cpu"),
    ("response_time critical for 30s: SLOW REQUEST: health probe took 5.00s", "response_time"),
    ("error_rate critical for 1.5s: High error rate detected: 60.0%", "error_rate"),
    ("memory over its cap: 2.5GB >= max_rss 2GB", "max_rss"),
    ("memory forecast: critical in 1h at 600.0 MB/hour", "forecast"),
    ("requested by SIGUSR1", "operator"),
    ("config reloaded with a new app section", "config"),
    ("something new", "other"),
    ("", "other"),
]


@pytest.mark.parametrize(("reason", "kind"), REASONS)
def test_restart_reasons_are_counted_by_kind(reason: str, kind: str) -> None:
    """Each restart_triggered reason lands in one fixed label value; the rest stay at zero."""
    families = feed(new_metrics(), event("restart_triggered", reason=reason, pid=7))
    for other in RESTART_KINDS:
        expected = 1 if other == kind else 0
        assert value(families, "watchdog_restarts_total", reason=other) == expected


def running_policy(**resources: object) -> Policy:
    raw = {"app": {"command": ["x"]}, "resources": resources, "restart": {"min_interval": "1s"}}
    config = parse(raw, Path("/tmp"))
    policy = Policy(config.health, config.restart, config.resources)
    policy.child_started(0)
    policy.on_probe(ProbeResult(ok=True, status=200, latency=0.01, error=None, at=1))
    return policy


def sample(at: float, rss: float) -> Sample:
    return Sample(
        at=at,
        procs=3,
        tree_rss=int(rss),
        tree_cpu=10.0,
        threads=9,
        fds=20,
        cpus=2,
        memory_limit=10 * GB,
        memory_limit_source="host",
        host_memory=40.0,
        host_cpu=20.0,
        disks=(DiskUsage("/", 50.0, 10 * GB),),
    )


def test_reasons_made_by_the_real_policy_are_classified() -> None:
    """Reasons taken from Policy itself, so a change of wording there fails here."""
    probes = running_policy()
    failed = ProbeResult(ok=False, status=None, latency=5.0, error="timed out", at=0)
    decisions = [
        d for at in (60, 120, 180) for d in probes.on_probe(dataclasses.replace(failed, at=at))
    ]
    [restart] = [d for d in decisions if isinstance(d, Restart)]
    assert restart_kind(restart.reason) == "probes"

    memory = running_policy()
    memory.on_sample(sample(10, 0.95 * 10 * GB))
    [restart] = [d for d in memory.on_sample(sample(70, 0.95 * 10 * GB)) if isinstance(d, Restart)]
    assert restart_kind(restart.reason) == "memory"

    capped = running_policy(memory={"max_rss": "2GB"})
    [over] = [d for d in capped.on_sample(sample(10, 2.5 * GB)) if isinstance(d, OverCap)]
    assert restart_kind(over.reason) == "max_rss"


def test_crashes_and_failed_starts_count_and_stamp_the_last_restart() -> None:
    """A death counts as crash, a start that never got healthy as failed_start."""
    families = feed(
        new_metrics(),
        event("child_exited", wall=WALL + 1, exit="exit code 1", code=1),
        event("child_failed_start", wall=WALL + 2, reason="not healthy within 1m"),
        event("child_exited", wall=WALL + 3.5, exit="killed by SIGKILL", code=None),
    )
    assert value(families, "watchdog_restarts_total", reason="crash") == 2
    assert value(families, "watchdog_restarts_total", reason="failed_start") == 1
    assert value(families, "watchdog_last_restart_timestamp_seconds") == WALL + 3.5


def test_probe_histogram_counters_and_consecutive_failures() -> None:
    """Latencies fill cumulative buckets (a bound includes its value); boot polls do not count."""
    metrics = new_metrics()
    families = feed(
        metrics,
        event("probe_failed", counted=False, error="refused", latency=0.001),
        event("probe_ok", status=200, latency=0.003),
        event("probe_ok", status=200, latency=0.005),
        event("probe_ok", status=200, latency=0.07),
        event("probe_failed", consecutive=1, of=3, status=503, error=None, latency=3.0),
        event("probe_failed", consecutive=2, of=3, status=None, error="timeout", latency=12.0),
    )
    assert value(families, "watchdog_probes_total", result="ok") == 3
    assert value(families, "watchdog_probes_total", result="failed") == 2
    assert value(families, "watchdog_probe_failures_consecutive") == 2
    expected = {0.005: 2, 0.01: 2, 0.05: 2, 0.1: 3, 2.0: 3, 5.0: 4, 10.0: 4, math.inf: 5}
    buckets = {
        float(s.labels["le"]): s.value
        for s in families["watchdog_probe_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert sorted(buckets) == list(BUCKETS)
    assert {bound: buckets[bound] for bound in expected} == expected
    assert value(families, "watchdog_probe_duration_seconds_count") == 5
    total = 0.003 + 0.005 + 0.07 + 3.0 + 12.0
    assert value(families, "watchdog_probe_duration_seconds_sum") == pytest.approx(total)
    families = feed(metrics, event("probe_ok", status=200, latency=0.02))
    assert value(families, "watchdog_probe_failures_consecutive") == 0


def test_a_new_child_starts_with_no_failed_probes() -> None:
    """Like the policy's count, the consecutive failures start afresh with each child."""
    metrics = new_metrics()
    failed = event("probe_failed", consecutive=3, of=3, status=503, error=None, latency=0.1)
    assert value(feed(metrics, failed), "watchdog_probe_failures_consecutive") == 3
    families = feed(metrics, event("child_started", pid=2))
    assert value(families, "watchdog_probe_failures_consecutive") == 0


RSS = 160_641_843  # 153.2 MiB, rounded down to the byte


def resource_sample(**overrides: Any) -> Event:
    fields = {
        "procs": 3,
        "rss_mb": 153.2,
        "rss_bytes": RSS,
        "memory_percent": 1.87,
        "memory_of": "host",
        "cpu_percent": 12.5,
        "cpu_of": "2 cores",
        "threads": 9,
        "fds": 20,
        "host_memory_percent": 40.1,
        "host_cpu_percent": 20.0,
        "disks": {"/": 50.0, "/var/log": 81.5},
    }
    return event("resource_sample", **{**fields, **overrides})


def test_resource_samples_set_the_gauges() -> None:
    """Every gauge of a sample, RSS in whole bytes; a disk no longer sampled disappears."""
    metrics = new_metrics()
    families = feed(metrics, resource_sample())
    assert value(families, "watchdog_child_rss_bytes") == RSS
    assert f'watchdog_child_rss_bytes{{app="api"}} {RSS}\n' in metrics.render()
    assert value(families, "watchdog_child_memory_percent") == 1.87
    assert value(families, "watchdog_child_cpu_percent") == 12.5
    assert value(families, "watchdog_child_processes") == 3
    assert value(families, "watchdog_child_threads") == 9
    assert value(families, "watchdog_child_fds") == 20
    assert value(families, "watchdog_host_memory_percent") == 40.1
    assert value(families, "watchdog_host_cpu_percent") == 20.0
    assert value(families, "watchdog_disk_used_percent", path="/var/log") == 81.5
    families = feed(metrics, resource_sample(disks={"/": 51.0}))
    assert value(families, "watchdog_disk_used_percent", path="/") == 51.0
    assert value(families, "watchdog_disk_used_percent", path="/var/log") is None


def test_level_changes_as_numbers_per_metric() -> None:
    """normal, warning and critical read 0, 1 and 2, for each metric on its own."""
    families = feed(
        new_metrics(),
        event("level_changed", metric="memory", status="warning", previous="normal"),
        event("level_changed", metric="memory", status="critical", previous="warning"),
        event("level_changed", metric="cpu", status="warning", previous="normal"),
        event("level_changed", metric="cpu", status="normal", previous="warning"),
        event("level_changed", metric="disk:/var", status="warning", previous="normal"),
    )
    assert value(families, "watchdog_level", metric="memory") == 2
    assert value(families, "watchdog_level", metric="cpu") == 0
    assert value(families, "watchdog_level", metric="disk:/var") == 1


def test_every_graded_metric_has_a_level_and_an_unmeasured_one_none() -> None:
    """A metric that never changed level reads 0 (normal), as the state file has it; one not
    measured (a new child's, until its first figure) has no sample rather than a stale one."""
    metrics = new_metrics()
    families = feed(metrics, event("level_changed", metric="response_time", status="warning"))
    metrics.show_levels(
        {
            "memory": {"level": "normal", "value": 1.2},
            "response_time": {"level": "warning", "value": 2.5},
            "host_cpu": {"level": "critical", "value": 99.0},
        }
    )
    families = feed(metrics)
    assert value(families, "watchdog_level", metric="memory") == 0
    assert value(families, "watchdog_level", metric="response_time") == 1
    assert value(families, "watchdog_level", metric="host_cpu") == 2
    metrics.show_levels({"host_cpu": {"level": "critical", "value": 99.0}})  # a new child
    families = feed(metrics)
    assert value(families, "watchdog_level", metric="memory") is None
    assert value(families, "watchdog_level", metric="response_time") is None
    assert value(families, "watchdog_level", metric="host_cpu") == 2


def test_label_values_are_escaped() -> None:
    """Quotes, backslashes and newlines in a path or the app name survive the round trip."""
    path = 'C:\\odd "dir"\nname'
    families = feed(new_metrics(app='my "api"\\v2'), resource_sample(disks={path: 12.5}))
    assert value(families, "watchdog_disk_used_percent", path=path) == 12.5
    assert value(families, "watchdog_up", app='my "api"\\v2') == 1


def test_malformed_events_are_skipped_never_raised() -> None:
    """Missing, mistyped or odd fields leave the values alone and the text parseable."""
    metrics = new_metrics()
    families = feed(
        metrics,
        resource_sample(),
        event("resource_sample", rss_bytes=None, procs="three", fds=True, disks=["/"]),
        event("resource_sample", cpu_percent=float("nan"), disks={"/": None}),
        event("probe_ok"),
        event("probe_failed", consecutive="many", latency="slow"),
        event("level_changed", metric="memory", status="purple"),
        event("restart_triggered"),
        event("restart_triggered", reason=None),
        event("child_exited", wall=0.0),
    )
    assert value(families, "watchdog_child_rss_bytes") == RSS
    assert value(families, "watchdog_child_processes") == 3
    assert value(families, "watchdog_child_cpu_percent") == 12.5
    assert value(families, "watchdog_disk_used_percent", path="/") is None
    assert value(families, "watchdog_probes_total", result="ok") == 1
    assert value(families, "watchdog_probe_duration_seconds_count") == 0
    assert value(families, "watchdog_level", metric="memory") is None
    assert value(families, "watchdog_restarts_total", reason="other") == 2
    assert value(families, "watchdog_last_restart_timestamp_seconds") > WALL


def test_huge_and_fractional_values_are_written_as_prometheus_reads_them() -> None:
    """Large integers stay exact, fractions keep their digits, infinity reads +Inf."""
    families = feed(
        new_metrics(),
        resource_sample(rss_bytes=2**60, memory_percent=1e-7, host_cpu_percent=math.inf),
    )
    assert value(families, "watchdog_child_rss_bytes") == 2.0**60
    assert value(families, "watchdog_child_memory_percent") == 1e-7
    assert value(families, "watchdog_host_cpu_percent") == math.inf


def test_a_stopped_watchdog_says_so_in_what_it_leaves_behind() -> None:
    """The last textfile of a stopped watchdog must not report it (or its app) up."""
    metrics = new_metrics()
    families = feed(metrics, event("child_healthy", downtime=None))
    assert value(families, "watchdog_child_up", app="api") == 1
    metrics.stopped()
    families = feed(metrics)
    assert value(families, "watchdog_up", app="api") == 0
    assert value(families, "watchdog_child_up", app="api") == 0


def test_remedies_are_counted_by_metric_and_outcome() -> None:
    families = feed(
        new_metrics(),
        event("remedy_applied", metric="memory", action="SIGUSR1"),
        event("remedy_failed", metric="memory", action="SIGUSR1", error="no answer"),
        event("remedy_failed", metric="response_time", action="POST /admin/cleanup"),
        event("remedy_unchecked", metric="cpu", reason="the child exited"),
        event("remedy_started", metric="cpu"),  # not a verdict
        event("remedy_failed", metric="made up"),  # no label of its own
    )
    assert value(families, "watchdog_remedies_total", metric="memory", outcome="worked") == 1
    assert value(families, "watchdog_remedies_total", metric="memory", outcome="failed") == 1
    assert value(families, "watchdog_remedies_total", metric="response_time", outcome="failed") == 1
    assert value(families, "watchdog_remedies_total", metric="cpu", outcome="unchecked") == 1
    counted = [s for s in families["watchdog_remedies"].samples if s.name.endswith("_total")]
    assert len(counted) == 4, counted
