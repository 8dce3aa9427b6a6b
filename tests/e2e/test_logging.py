"""End to end: the category files of a real run, a failing disk, and a child's output flood."""

from __future__ import annotations

import json
import os
import re
import signal
from datetime import datetime

from tests.conftest import fast_config, free_port, poll

CATEGORY_FILES = ("", "_performance", "_error", "_health", "_memory")


def test_each_category_file_gets_its_events(run_watchdog) -> None:
    """Lifecycle in main, probes in health and performance, errors in error, all as JSON."""
    config = fast_config(free_port(), ["--crash-after", "0.5"], resources={"interval": "200ms"})
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_exited")
    watchdog.wait_for("resource_sample", count=2)
    watchdog.wait_for("child_healthy", count=2)
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit() == 0
    directory = watchdog.log_path.parent
    assert sorted(p.name for p in directory.glob("*.log")) == sorted(
        f"faulty{suffix}.log" for suffix in CATEGORY_FILES
    )
    by_file = {}
    for suffix in CATEGORY_FILES:
        lines = (directory / f"faulty{suffix}.log").read_text().splitlines()
        events = [json.loads(line) for line in lines]
        for event in events:
            assert list(event)[:5] == ["timestamp", "level", "event", "category", "app"]
            assert event["app"] == "faulty"
            assert event["timestamp"].endswith("Z")
            datetime.fromisoformat(event["timestamp"])
        by_file[suffix] = events
    main_events = {e["event"] for e in by_file[""]}
    assert {"watchdog_started", "child_started", "child_exited", "child_output"} <= main_events
    assert {"probe_ok"} <= {e["event"] for e in by_file["_health"]}
    assert all(e["category"] == "health" for e in by_file["_health"])
    assert {e["event"] for e in by_file["_performance"]} >= {"probe_ok"}
    assert [e["event"] for e in by_file["_error"]] == ["child_exited"]
    assert {e["event"] for e in by_file["_performance"]} >= {"probe_ok", "resource_sample"}
    # Memory transitions (the host's too) are copied there; whether the host has any
    # depends on the machine, which a test must not.
    memory_events = {e["event"] for e in by_file["_memory"]}
    assert memory_events - {"level_changed"} == {"resource_sample"}
    copied = {e["metric"] for e in by_file["_memory"] if e["event"] == "level_changed"}
    assert copied <= {"memory", "host_memory"}
    # Between a crash and the restart there may be no app to measure: 0 processes, 0 MB.
    measured = [e for e in by_file["_memory"] if e["procs"] > 0]
    assert measured
    assert all(e["rss_mb"] > 0 for e in measured), by_file["_memory"]


def test_failing_log_write_is_survived_and_resumed(run_watchdog, tmp_path) -> None:
    """A category file on a full disk is reported once; supervision and other files go on."""
    logs = tmp_path / "logs"
    logs.mkdir()
    health_log = logs / "faulty_health.log"
    health_log.symlink_to("/dev/full")
    watchdog = run_watchdog(fast_config(free_port(), ["--hang-after", "1"]))
    watchdog.wait_for("restart_triggered", timeout=15)
    watchdog.wait_for("child_healthy", count=2)
    output = watchdog.output()
    assert output.count("cannot write") == 1, output
    assert "No space left on device" in output
    health_log.unlink()  # the disk has room again
    poll(lambda: health_log.exists() and "probe_ok" in health_log.read_text(), timeout=10)
    poll(lambda: "writing" in watchdog.output() and "again" in watchdog.output(), timeout=5)
    assert watchdog.output().count("cannot write") == 1


def test_output_flood_is_kept_whole_and_rotated(run_watchdog) -> None:
    """20 MB of output in one burst: every line logged, files rotated, probes still on time."""
    config = fast_config(
        free_port(),
        ["--flood-mb", "20"],
        logging={"max_bytes": "4MB", "backup_count": 30, "level": "info"},
        # Probe pace with room for a loaded CI machine: this test is about the logs.
        health={"interval": "1s", "timeout": "900ms"},
    )
    watchdog = run_watchdog(config)
    [done] = watchdog.wait_for("child_output", timeout=60, stream="stderr")
    match = re.match(r"flood-done (\d+) lines in ([\d.]+)s", done["line"])
    assert match, done["line"]
    lines, took = int(match.group(1)), float(match.group(2))
    directory = watchdog.log_path.parent
    files = sorted(directory.glob("faulty.log*"))
    assert all(path.stat().st_size <= 4 * 2**20 for path in files)
    assert len(files) > 5  # rotated, not one huge file
    flood_numbers = []
    before = []
    for path in files:
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event["event"] != "child_output":
                continue
            if event["line"].startswith("flood "):
                flood_numbers.append(int(event["line"].split()[1]))
            elif event["line"].startswith("before-flood"):
                before.append(event["line"])
    assert len(before) == 100
    assert sorted(flood_numbers) == list(range(lines))
    # Writing 20 MB into a pipe we drain must not take the child much longer than the
    # logging of it takes us: well under the seconds a blocked pipe would cost.
    assert took < 15, f"the child spent {took}s writing 20 MB"
    # Busy with the flood, the watchdog still probes in time: a healthy app is not restarted
    # (on a loaded 2-core machine a single 200 ms probe may still be late, hence no stricter).
    assert watchdog.events("restart_triggered") == []
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit() == 0
    assert os.path.getsize(watchdog.log_path) <= 4 * 2**20
