"""End to end: resource levels and the restarts they trip, on real misbehaving processes."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import fast_config, free_port, pid_gone, poll
from watchdog.cgroup import memory_limit

MB = 2**20
PERCENT = re.compile(r"\d+\.\d%")


def _percent_of_limit(megabytes: float) -> float:
    """`megabytes` as the percentage the memory thresholds are written in.

    Memory thresholds are percentages of the limit the watchdog measures against (a cgroup's
    memory.max, else the host's total, about 24 GiB on the development machine), so a fixed
    percentage would be a different size on every machine: the tests think in MB instead.
    """
    limit = memory_limit().size
    return round(100 * megabytes * MB / limit, 4)


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def _before(events: list[dict[str, Any]], last: dict[str, Any], name: str) -> dict[str, Any]:
    """The last event called `name` logged before `last`."""
    return next(e for e in reversed(events[: events.index(last)]) if e["event"] == name)


def _between(events: list[dict[str, Any]], first: dict, last: dict, *names: str) -> list[dict]:
    start, end = events.index(first), events.index(last)
    return [e for e in events[start + 1 : end] if e["event"] in names]


def _counted_probes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Probes of a healthy child: every probe_ok, and the failures that count."""
    return [
        e
        for e in events
        if e["event"] == "probe_ok" or (e["event"] == "probe_failed" and "consecutive" in e)
    ]


def test_leak_over_max_rss_is_restarted_at_once(run_watchdog) -> None:
    """A leaking child is stopped within a second of the sample that crosses max_rss."""
    port = free_port()
    config = fast_config(
        port,
        ["--leak-mb-per-s", "50"],
        # The quick cap check is slowed right down: this is the full sample's own check.
        resources={"interval": "100ms", "memory": {"max_rss": "150MB", "cap_interval": "1h"}},
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    [restart] = watchdog.wait_for("restart_triggered", timeout=10)
    assert restart["pid"] == healthy["pid"]
    assert re.fullmatch(r"memory over its cap: [\d.]+MB >= max_rss 150MB", restart["reason"])
    [stopped] = watchdog.wait_for("child_stopped")
    assert stopped["pid"] == healthy["pid"]
    events = watchdog.events()
    crossing = _before(events, restart, "resource_sample")
    assert crossing["rss_mb"] >= 149.9  # rounded to 0.1 MB in the log
    took = _at(stopped) - _at(crossing)
    print(f"max_rss: sample over the cap -> child_stopped in {took * 1000:.0f} ms")
    assert 0 <= took < 1.0, f"{took:.3f}s from the sample over the cap to child_stopped"
    poll(lambda: pid_gone(healthy["pid"]), timeout=5)
    [_, started] = watchdog.wait_for("child_started", count=2)
    assert started["previous_pid"] == healthy["pid"]
    [_, back] = watchdog.wait_for("child_healthy", count=2)
    assert back["pid"] != healthy["pid"]


def test_the_quick_cap_check_stops_a_leak_just_past_the_cap(run_watchdog) -> None:
    """With full samples an hour apart, the cap check alone stops a 50 MB/s leak, within a
    few MB of the cap, and the new child is up again."""
    config = fast_config(
        free_port(),
        ["--leak-mb-per-s", "50"],
        resources={"interval": "1h", "memory": {"max_rss": "150MB", "cap_interval": "50ms"}},
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    [restart] = watchdog.wait_for("restart_triggered", timeout=10)
    found = re.fullmatch(r"memory over its cap: ([\d.]+)MB >= max_rss 150MB", restart["reason"])
    assert found, restart["reason"]
    assert 150 <= float(found.group(1)) < 160  # 50 MB/s for one 50 ms interval is 2.5 MB
    assert watchdog.events("resource_sample") == []  # no full sample was needed
    poll(lambda: pid_gone(healthy["pid"]), timeout=5)
    [_, back] = watchdog.wait_for("child_healthy", count=2)
    assert back["pid"] != healthy["pid"]


def test_memory_critical_for_sustain_restarts(run_watchdog) -> None:
    """Memory that stays critical for `sustain` restarts the child, after a logged level."""
    port = free_port()
    config = fast_config(
        port,
        ["--leak-mb-per-s", "50"],
        resources={
            "interval": "100ms",
            "memory": {
                "warning": _percent_of_limit(50),
                "critical": _percent_of_limit(80),
                "sustain": "500ms",
            },
        },
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    [critical] = watchdog.wait_for("level_changed", timeout=10, metric="memory", status="critical")
    assert critical["level"] == "error"
    assert re.fullmatch(f"High memory usage detected: {PERCENT.pattern}", critical["message"])
    [restart] = watchdog.wait_for("restart_triggered", timeout=10)
    assert restart["pid"] == healthy["pid"]
    assert restart["reason"].startswith("memory critical for"), restart["reason"]
    assert "High memory usage detected: " in restart["reason"]
    lasted = _at(restart) - _at(critical)
    assert 0.45 <= lasted < 2.0, f"restarted {lasted:.3f}s after memory turned critical"
    watchdog.wait_for("child_healthy", count=2)
    # Memory transitions are copied to the memory file.
    assert critical in [json.loads(line) for line in watchdog.lines("memory")]


def test_old_child_samples_never_restart_the_new_one(run_watchdog) -> None:
    """After a max_rss restart, the new child is judged on its own samples only."""
    port = free_port()
    config = fast_config(
        port,
        # Ignoring SIGTERM, the old child lives (and leaks) through a 500ms stop_timeout:
        # samples are taken of it all along while the restart is under way.
        ["--leak-mb-per-s", "50", "--ignore-term"],
        app={"stop_timeout": "500ms"},
        resources={"interval": "100ms", "memory": {"max_rss": "150MB"}},
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    [first] = watchdog.wait_for("restart_triggered", timeout=10)
    assert first["pid"] == healthy["pid"]
    [_, started] = watchdog.wait_for("child_started", count=2)
    # Eight more samples: those queued during the stop, then some of the new child (which
    # leaks too, but needs some 2.5 s to reach the cap on its own).
    samples = len(watchdog.events("resource_sample"))
    watchdog.wait_for("resource_sample", count=samples + 8)
    events = watchdog.events()
    after = events[events.index(started) :]
    seen = [(e["event"], e.get("rss_mb"), e.get("pid")) for e in after]
    assert [e for e in after if e["event"] == "restart_triggered"] == [], seen


def test_cpu_busy_for_sustain_restarts(run_watchdog, tmp_path: Path) -> None:
    """A tree keeping a core busy turns CPU critical and is restarted after `sustain`."""
    port = free_port()
    config = fast_config(
        port,
        ["--spin", "--pids-file", str(tmp_path / "spinner.pids")],
        resources={
            "interval": "100ms",
            # per_core: one busy core is 100%, whatever the machine's number of cores.
            "cpu": {"warning": 30, "critical": 60, "sustain": "500ms", "per_core": True},
        },
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    [critical] = watchdog.wait_for("level_changed", timeout=10, metric="cpu", status="critical")
    assert re.fullmatch(f"High CPU usage detected: {PERCENT.pattern}", critical["message"])
    assert critical["value"] >= 60
    [restart] = watchdog.wait_for("restart_triggered", timeout=10)
    assert restart["pid"] == healthy["pid"]
    assert "cpu critical" in restart["reason"], restart["reason"]
    [stopped] = watchdog.wait_for("child_stopped")
    assert stopped["processes"] >= 2  # the app and its spinning child
    assert stopped["survivors"] == 0


def test_slow_answers_for_sustain_restart(run_watchdog) -> None:
    """Health answers slower than response_time.critical for `sustain` restart the child."""
    port = free_port()
    config = fast_config(
        port,
        ["--slow", "0.3"],
        # A 0.3 s answer is well within the timeout: every probe succeeds, slowly. Sustain
        # is a little under the probe interval, so the second critical probe trips it.
        health={"interval": "1s", "timeout": "800ms"},
        resources={
            "interval": "200ms",
            "response_time": {"warning": "100ms", "critical": "200ms", "sustain": "900ms"},
        },
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    [critical] = watchdog.wait_for(
        "level_changed", timeout=10, metric="response_time", status="critical"
    )
    assert critical["message"].startswith("SLOW REQUEST"), critical["message"]
    assert critical["value"] >= 0.3
    [restart] = watchdog.wait_for("restart_triggered", timeout=10)
    assert restart["pid"] == healthy["pid"]
    assert restart["reason"].startswith("response_time critical for"), restart["reason"]
    assert _counted_probes(watchdog.events("probe_failed")) == []


def test_error_rate_restarts_and_a_new_child_starts_afresh(run_watchdog) -> None:
    """Every 2nd probe a 500 trips the error-rate rule; the new child's window starts empty."""
    port = free_port()
    window = 6
    config = fast_config(
        port,
        ["--fail-every", "2"],
        resources={
            "interval": "200ms",
            "error_rate": {
                "warning": 20,
                "critical": 40,
                "sustain": "1s",
                "window": window,
                "min_probes": window,
            },
        },
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    [critical] = watchdog.wait_for(
        "level_changed", timeout=10, metric="error_rate", status="critical"
    )
    assert critical["value"] >= 40  # 50: one 500 in two, unless a probe was also late
    [restart, again] = watchdog.wait_for("restart_triggered", count=2, timeout=15)
    assert restart["pid"] == healthy["pid"]
    for each in (restart, again):
        assert each["reason"].startswith("error_rate critical"), each["reason"]
    # Never three failures in a row: the consecutive-failure rule had no part in it.
    assert all("consecutive" not in e["reason"] for e in watchdog.events("restart_triggered"))
    # The old child's failures did not count against the new one: it was graded only once
    # its own window was full, and restarted only after `sustain` more.
    events = watchdog.events()
    [_, back] = watchdog.events("child_healthy")[:2]
    assert again["pid"] == back["pid"]
    probes = _counted_probes(_between(events, back, again, "probe_ok", "probe_failed"))
    # `window` probes before it is graded at all, then at least three more 300ms probes
    # (four, in fact) before it has been critical for the 1 s sustain.
    assert len(probes) >= window + 3, [p["event"] for p in probes]
    assert _at(again) - _at(back) >= 1.0


def _pids(path: Path) -> list[int]:
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _tree(pid: int) -> tuple[int, float]:
    """Processes and RSS (MB) of `pid` and all its descendants, read with psutil here."""
    root = psutil.Process(pid)
    tree = [root, *root.children(recursive=True)]
    return len(tree), sum(p.memory_info().rss for p in tree) / MB


def test_tree_is_summed(run_watchdog, tmp_path: Path) -> None:
    """A sample's procs and rss_mb are the child's whole tree, grandchildren included."""
    pid_file = tmp_path / "workers.pids"
    config = fast_config(
        free_port(),
        ["--tree-workers", "3", "--worker-mb", "20", "--pids-file", str(pid_file)],
        resources={"interval": "200ms"},
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    workers = poll(lambda: len(_pids(pid_file)) == 3 and _pids(pid_file), timeout=5)
    # Each worker holds its 20 MB (on top of its interpreter) before anything is compared.
    poll(lambda: all(psutil.Process(p).memory_info().rss > 20 * MB for p in workers), timeout=5)
    # Three samples in a row, each against psutil read just before and just after it.
    for _ in range(3):
        procs, rss_before = _tree(healthy["pid"])
        assert procs == 1 + 3  # the app and its workers, nothing else
        count = len(watchdog.events("resource_sample"))
        sample = watchdog.wait_for("resource_sample", count=count + 1)[-1]
        procs_after, rss_after = _tree(healthy["pid"])
        assert procs_after == procs
        expected = (rss_before + rss_after) / 2
        assert sample["procs"] == procs, sample
        assert abs(sample["rss_mb"] - expected) <= 0.1 * expected, (sample["rss_mb"], expected)
        assert sample["rss_mb"] >= 3 * 20
    assert watchdog.events("restart_triggered") == []


def test_disk_critical_cleans_old_logs_and_never_restarts(run_watchdog) -> None:
    """A disk over its critical mark is reported, log clean-up runs, the child stays."""
    usage = psutil.disk_usage("/").percent
    # Thresholds below today's real usage make this disk critical without filling it.
    disk = {"paths": ["/"], "warning": usage / 4, "critical": usage / 2}
    watchdog = run_watchdog(
        fast_config(free_port(), [], resources={"interval": "100ms", "disk": disk})
    )
    [healthy] = watchdog.wait_for("child_healthy")
    [critical] = watchdog.wait_for("disk_critical", timeout=10)
    assert critical["path"] == "/"
    assert critical["level"] == "error"
    [change] = watchdog.wait_for("level_changed", metric="disk:/", status="critical")
    assert change["message"].startswith("High disk usage on / detected: ")
    events = [e["event"] for e in watchdog.events()]
    after = events[events.index("disk_critical") + 1]
    assert after == "logs_cleaned"  # the clean-up ran at once, not at the daily round
    watchdog.wait_for("resource_sample", count=10)
    assert watchdog.events("disk_critical") == [critical]  # once per transition
    assert watchdog.events("restart_triggered") == []
    assert watchdog.events("child_started")[-1]["pid"] == healthy["pid"]
