"""End to end: resource levels and the restarts they trip, on real misbehaving processes."""

from __future__ import annotations

import re
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import fast_config, free_port, pid_gone, poll

MB = 2**20
PERCENT = re.compile(r"\d+\.\d%")


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def _before(events: list[dict[str, Any]], last: dict[str, Any], name: str) -> dict[str, Any]:
    """The last event called `name` logged before `last`."""
    return next(e for e in reversed(events[: events.index(last)]) if e["event"] == name)


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


def test_cpu_busy_for_sustain_restarts(run_watchdog, tmp_path: Path) -> None:
    """A tree keeping a core busy turns CPU critical and is restarted after `sustain`."""
    port = free_port()
    config = fast_config(
        port,
        ["--spin", "--pids-file", str(tmp_path / "spinner.pids")],
        resources={
            "interval": "100ms",
            # per_core: one busy core is 100%, whatever the machine's number of cores. Low
            # levels: on a host with a load of 7 on two cores the spinner still gets about
            # a quarter of one, and an idle app stays near 0.
            "cpu": {"warning": 8, "critical": 15, "sustain": "500ms", "per_core": True},
        },
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    [critical] = watchdog.wait_for("level_changed", timeout=20, metric="cpu", status="critical")
    assert re.fullmatch(f"High CPU usage detected: {PERCENT.pattern}", critical["message"])
    assert critical["value"] >= 15
    [restart] = watchdog.wait_for("restart_triggered", timeout=20)
    assert restart["pid"] == healthy["pid"]
    assert "cpu critical" in restart["reason"], restart["reason"]
    [stopped] = watchdog.wait_for("child_stopped")
    assert stopped["processes"] >= 2  # the app and its spinning child
    assert stopped["survivors"] == 0


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


def test_a_cap_set_by_a_reload_is_checked_at_once(run_watchdog) -> None:
    """Without max_rss the cap check sleeps until a reload: one that sets a cap wakes it."""
    config = fast_config(
        free_port(), ["--leak-mb-per-s", "50"], resources={"interval": "1h"}
    )
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    config["resources"]["memory"] = {"max_rss": "150MB", "cap_interval": "50ms"}
    watchdog.write_config(config)
    watchdog.send(signal.SIGHUP)
    watchdog.wait_for("config_reloaded")
    [restart] = watchdog.wait_for("restart_triggered", timeout=10)
    assert re.fullmatch(r"memory over its cap: [\d.]+MB >= max_rss 150MB", restart["reason"])
    assert watchdog.events("resource_sample") == []  # the cap check, not a full sample
