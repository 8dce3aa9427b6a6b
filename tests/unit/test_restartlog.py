"""`watchdog restarts`: restarts read back from synthetic log lines, and the command itself."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from watchdog.cli import main
from watchdog.cli.restartlog import RestartRecord, render_list, restarts_from_events


def stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def event(at: float, name: str, **fields: Any) -> dict[str, Any]:
    return {"timestamp": stamp(at), "level": "info", "event": name, "app": "t", **fields}


T0 = 1_700_000_000.0


def test_restarts_pair_with_the_next_healthy_newest_first() -> None:
    """Each restart gets the downtime of the healthy answer that ended its outage."""
    events = [
        event(T0, "child_started", pid=10),
        event(T0 + 1, "child_healthy", pid=10, downtime=None),
        event(T0 + 50, "restart_triggered", reason="hung", pid=10, diagnostics="/d/a.json"),
        event(T0 + 53, "child_healthy", pid=11, downtime=3.25),
        event(T0 + 90, "child_exited", pid=11, exit="exit code 1", code=1, signal=None),
        "a line that is not JSON",
        event(T0 + 95, "child_healthy", pid=12, downtime=5.0),
    ]
    assert restarts_from_events(events) == [
        RestartRecord(stamp(T0 + 90), "crash", "crashed: exit code 1", 11, 5.0, False, None),
        RestartRecord(stamp(T0 + 50), "restart", "hung", 10, 3.25, False, "/d/a.json"),
    ]


def test_a_crash_respawned_first_gets_its_snapshot_from_the_later_event() -> None:
    events = [
        event(T0, "child_exited", pid=11, exit="exit code 1", code=1, signal=None),
        event(T0 + 0.1, "child_healthy", pid=12, downtime=0.1),
        event(T0 + 0.2, "diagnostics_written", pid=11, reason="exited", diagnostics="/d/c.json"),
    ]
    [crash] = restarts_from_events(events)
    assert (crash.pid, crash.downtime, crash.snapshot) == (11, 0.1, "/d/c.json")


def test_a_second_restart_within_one_outage_is_marked_as_such() -> None:
    """Crashes before the app is healthy again share the first one's downtime."""
    events = [
        event(T0, "child_exited", pid=1, exit="exit code 1"),
        event(T0 + 2, "child_exited", pid=2, exit="exit code 1"),
        event(T0 + 5, "child_healthy", pid=3, downtime=5.0),
    ]
    newest, oldest = restarts_from_events(events)
    assert (oldest.downtime, oldest.same_outage) == (5.0, False)
    assert (newest.downtime, newest.same_outage) == (None, True)


def test_an_outage_still_going_or_cut_by_a_new_watchdog_has_no_downtime() -> None:
    """No healthy answer, or one from a later watchdog run: the downtime is unknown."""
    cut = [
        event(T0, "restart_triggered", reason="memory", pid=1),
        event(T0 + 5, "watchdog_started"),
        event(T0 + 6, "child_healthy", pid=2, downtime=None),
        event(T0 + 9, "restart_triggered", reason="hung", pid=2),
    ]
    assert [(r.reason, r.downtime, r.same_outage) for r in restarts_from_events(cut)] == [
        ("hung", None, False),
        ("memory", None, False),
    ]


def test_the_list_shows_utc_times_marked_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same instant as in the log file and the snapshot's name, said to be UTC."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        record = RestartRecord("2025-03-04T05:06:07.891Z", "restart", "hung", 1, 2.0, False, None)
        header, row = render_list([record])
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert header.split() == ["#", "time", "down", "reason", "/", "snapshot"]
    assert row == "  1  2025-03-04 05:06:07 UTC        2s  hung"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """A config naming app "t" with its logs in tmp_path/logs; returns (config, logs dir)."""
    config = tmp_path / "watchdog.yaml"
    config.write_text("app: {name: t, command: [x]}\nlogging: {dir: logs}\n")
    logs = tmp_path / "logs"
    (logs / "diagnostics").mkdir(parents=True)
    return config, logs


def write_log(path: Path, *events: dict[str, Any]) -> None:
    path.write_text("".join(json.dumps(item) + "\n" for item in events), "utf-8")


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


SNAPSHOT = {
    "app": "t",
    "format": 1,
    "reason": "hung",
    "time": "2025-03-04T05:06:07.891Z",
    "took": 0.05,
    "complete": True,
    "notes": [],
    "processes": [{"pid": 10, "ppid": 1, "name": "python3", "python": True, "stacks": "x\n\n"}],
    "output_tail": ["last words"],
    "history": [],
    "levels": {},
    "trend": None,
}


def test_restarts_lists_from_every_log_file(setup: tuple[Path, Path]) -> None:
    """The table lists rotated and live files' restarts, newest first, with snapshot names."""
    config, logs = setup
    now = time.time()
    snapshot = logs / "diagnostics" / "20250304T050607.891Z-t-hung.json"
    write_log(
        logs / "t.log.1",
        event(now - 60, "restart_triggered", reason="hung", pid=10, diagnostics=str(snapshot)),
    )
    write_log(
        logs / "t.log",
        event(now - 58, "child_healthy", pid=11, downtime=2.0),
        event(now - 10, "child_exited", pid=11, exit="killed by SIGSEGV", code=None, signal=11),
    )
    result = run("restarts", "--config", str(config))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "time", "down", "reason", "/", "snapshot"]
    assert lines[1].startswith("  1  ")
    assert lines[1].endswith("       -  crashed: killed by SIGSEGV")
    assert lines[2].startswith("  2  ")
    assert lines[2].endswith("      2s  hung")
    assert lines[3].strip() == snapshot.name
    result = run("restarts", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    assert [item["reason"] for item in json.loads(result.stdout)] == [
        "crashed: killed by SIGSEGV",
        "hung",
    ]


def test_show_prints_a_snapshot_for_a_person_or_as_json(setup: tuple[Path, Path]) -> None:
    """--show N renders the Nth newest restart's snapshot; --json prints it as stored."""
    config, logs = setup
    snapshot = logs / "diagnostics" / "20250304T050607.891Z-t-hung.json"
    snapshot.write_text(json.dumps(SNAPSHOT))
    write_log(
        logs / "t.log",
        event(time.time(), "restart_triggered", reason="hung", pid=10, diagnostics=str(snapshot)),
    )
    result = run("restarts", "--config", str(config), "--show", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"# {snapshot}"
    assert "reason:  hung" in result.stdout
    assert "  last words" in result.stdout
    result = run("restarts", "--config", str(config), "--show", "1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == SNAPSHOT


def test_nothing_to_show_exits_1_with_a_reason(setup: tuple[Path, Path]) -> None:
    """No restarts, a number past the end, no snapshot, a pruned one: exit 1, said why."""
    config, logs = setup
    result = run("restarts", "--config", str(config))
    assert result.exit_code == 1
    assert "no restarts of t in the logs under" in result.stderr
    gone = logs / "diagnostics" / "20250101T000000.000Z-t-memory.json"
    write_log(
        logs / "t.log",
        event(time.time() - 9, "restart_triggered", reason="memory", pid=1, diagnostics=str(gone)),
        event(time.time() - 5, "restart_triggered", reason="hung", pid=2),
    )
    result = run("restarts", "--config", str(config), "--show", "3")
    assert (result.exit_code, result.stderr) == (
        1,
        "watchdog: there is no restart 3: the logs hold 2\n",
    )
    result = run("restarts", "--config", str(config), "--show", "1")
    assert result.exit_code == 1
    assert "restart 1 (hung) has no snapshot" in result.stderr
    result = run("restarts", "--config", str(config), "--show", "2")
    assert result.exit_code == 1
    assert f"snapshot {gone} is gone" in result.stderr


def test_show_zero_is_a_usage_error(setup: tuple[Path, Path]) -> None:
    """Restarts count from 1, the newest."""
    config, _ = setup
    result = run("restarts", "--config", str(config), "--show", "0")
    assert result.exit_code == 2
