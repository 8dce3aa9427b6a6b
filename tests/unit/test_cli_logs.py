"""`watchdog logs` and `watchdog logs clean` on log files written by the test."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from watchdog.cli import logview, main


def stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def event(at: float, name: str, category: str = "main", **fields: Any) -> str:
    record = {"timestamp": stamp(at), "level": "info", "event": name, "category": category}
    return json.dumps({**record, "app": "t", **fields}, ensure_ascii=False)


def shown_time(at: float) -> str:
    return stamp(at).replace("T", " ")[:23] + " UTC"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """A config naming app "t" with its logs in tmp_path/logs; returns (config, logs dir)."""
    config = tmp_path / "watchdog.yaml"
    config.write_text("app: {name: t, command: [x]}\nlogging: {dir: logs}\n")
    logs = tmp_path / "logs"
    logs.mkdir()
    return config, logs


def write(path: Path, *lines: str) -> None:
    path.write_text("".join(item + "\n" for item in lines), "utf-8")


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_logs_prints_the_main_category_rendered(setup: tuple[Path, Path]) -> None:
    """`logs` prints the main file's events, rotated copy first, as readable lines."""
    config, logs = setup
    now = time.time()
    write(logs / "t.log.1", event(now - 30, "child_started", pid=7))
    write(
        logs / "t.log",
        event(now - 20, "child_output", stream="stdout", generation=1, line="hello ✓"),
        event(now - 10, "child_stopped", exit="exit code 0"),
    )
    write(logs / "t_health.log", event(now - 15, "probe_ok", category="health"))
    result = run("logs", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{shown_time(now - 30)} INFO     child_started pid=7",
        f"{shown_time(now - 20)} INFO     [stdout] hello ✓",
        f'{shown_time(now - 10)} INFO     child_stopped exit="exit code 0"',
    ]


def test_logs_category_health(setup: tuple[Path, Path]) -> None:
    """`--category health` prints the health file only."""
    config, logs = setup
    now = time.time()
    write(logs / "t.log", event(now - 20, "child_started"))
    write(logs / "t_health.log", event(now - 10, "probe_failed", category="health", status=503))
    result = run("logs", "--config", str(config), "--category", "health")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{shown_time(now - 10)} INFO     probe_failed status=503"
    ]


def test_logs_category_all_shows_a_copied_event_once(setup: tuple[Path, Path]) -> None:
    """`--category all` merges the categories and shows an event copied to two files once."""
    config, logs = setup
    now = time.time()
    copied = event(now - 5, "probe_ok", category="health", latency=0.1)
    write(logs / "t.log", event(now - 20, "child_started"))
    write(logs / "t_health.log", copied)
    write(logs / "t_performance.log", event(now - 10, "resource_sample"), copied)
    write(logs / "t_error.log", event(now - 1, "not_shown", level="error"))
    result = run("logs", "--config", str(config), "--category", "all")
    assert result.exit_code == 0, result.output
    shown = [line.split()[4] for line in result.stdout.splitlines()]
    assert shown == ["child_started", "resource_sample", "probe_ok"]


def test_logs_since(setup: tuple[Path, Path]) -> None:
    """`--since 1h` leaves out an event two hours old and keeps one a minute old."""
    config, logs = setup
    now = time.time()
    write(logs / "t.log", event(now - 7200, "too_old"), event(now - 60, "recent"))
    result = run("logs", "--config", str(config), "--since", "1h")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{shown_time(now - 60)} INFO     recent"]


def test_logs_json_prints_the_events_as_json(setup: tuple[Path, Path]) -> None:
    """`--json` prints one JSON object per event, the same objects as stored."""
    config, logs = setup
    now = time.time()
    stored = [event(now - 20, "child_started", pid=7), event(now - 10, "child_stopped", took=0.5)]
    write(logs / "t.log", *stored, "a line that is not json")
    result = run("logs", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    printed = result.stdout.splitlines()
    assert printed[0] == "a line that is not json"
    assert [json.loads(line) for line in printed[1:]] == [json.loads(line) for line in stored]
    assert printed[1:] == stored  # ASCII lines come out byte for byte


def test_logs_json_prints_unicode_lines_as_stored(setup: tuple[Path, Path]) -> None:
    """`--json` prints a stored line with non-ASCII text unchanged."""
    config, logs = setup
    stored = event(time.time() - 5, "child_output", stream="stdout", generation=1, line="é ✓")
    write(logs / "t.log", stored)
    result = run("logs", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [stored]


@pytest.mark.parametrize("since", ["soon", "-1h", "1 parsec"])
def test_logs_bad_since_exits_2(setup: tuple[Path, Path], since: str) -> None:
    """A --since that is not a duration is a usage error (exit 2) naming the option."""
    config, _ = setup
    result = run("logs", "--config", str(config), "--since", since)
    assert result.exit_code == 2
    assert "--since" in result.output
    assert "expected a duration" in result.output


def test_logs_with_no_files_prints_nothing(setup: tuple[Path, Path]) -> None:
    """An app that has not logged anything yet shows nothing and exits 0."""
    config, _ = setup
    result = run("logs", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_logs_follow_shows_new_lines_once(
    setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`logs -f` follows the live files only and shows a line copied to two files once."""
    config, logs = setup
    now = time.time()
    write(logs / "t.log.1", event(now - 60, "rotated"))
    write(logs / "t.log", event(now - 30, "already_there"))
    write(logs / "t_health.log")
    write(logs / "t_performance.log")
    copied = event(now, "probe_ok", category="health", latency=0.1)
    followed: list[list[str]] = []
    real_follow = logview.follow

    def append_copies() -> None:
        for name in ("t_health.log", "t_performance.log"):
            with open(logs / name, "a", encoding="utf-8") as handle:
                handle.write(copied + "\n")
        with open(logs / "t.log", "a", encoding="utf-8") as handle:
            handle.write(event(now + 1, "child_stopped") + "\n")

    def bounded_follow(files: list[Path], emit: Callable[[str], None], **_: Any) -> None:
        followed.append([path.name for path in files])
        steps: list[Callable[[], None] | None] = [None, append_copies, None]

        def keep_going() -> bool:
            if not steps:
                return False
            step = steps.pop(0)
            if step is not None:
                step()
            return True

        real_follow(files, emit, keep_going, poll=0.01)

    monkeypatch.setattr(logview, "follow", bounded_follow)
    result = run("logs", "--config", str(config), "-f", "--category", "all")
    assert result.exit_code == 0, result.output
    assert followed == [["t.log", "t_performance.log", "t_health.log", "t_memory.log"]]
    shown = [line.split()[4] for line in result.stdout.splitlines()]
    assert shown == ["rotated", "already_there", "child_stopped", "probe_ok"]


def test_logs_clean_removes_old_rotated_files(setup: tuple[Path, Path]) -> None:
    """`logs clean` removes rotated copies older than retention_days and names them."""
    config, logs = setup
    now = time.time()
    for name, days in (("t.log", 40), ("t.log.1", 1), ("t.log.2", 40), ("t_health.log.1", 40)):
        write(logs / name, "x")
        os.utime(logs / name, (now - days * 86400, now - days * 86400))
    result = run("logs", "clean", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "removed t.log.2",
        "removed t_health.log.1",
        "2 file(s) older than 30 days removed",
    ]
    assert sorted(path.name for path in logs.iterdir()) == ["t.log", "t.log.1"]


def test_logs_clean_with_nothing_to_remove(setup: tuple[Path, Path]) -> None:
    """`logs clean` with no old files reports zero."""
    config, _ = setup
    result = run("logs", "clean", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout == "0 file(s) older than 30 days removed\n"


def test_logs_clean_takes_the_config_given_to_logs(
    setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`logs -c wd.yaml clean` cleans wd.yaml's logs, not those of ./watchdog.yaml."""
    config, logs = setup
    monkeypatch.chdir(config.parent)
    config.rename(config.with_name("wd.yaml"))
    other = config.parent / "other"
    other.mkdir()
    config.write_text("app: {name: t, command: [x]}\nlogging: {dir: other}\n")
    old = time.time() - 40 * 86400
    for directory in (logs, other):
        write(directory / "t.log.1", "x")
        os.utime(directory / "t.log.1", (old, old))
    for args in (["logs", "-c", "wd.yaml", "clean"], ["logs", "clean", "-c", "wd.yaml"]):
        write(logs / "t.log.1", "x")
        os.utime(logs / "t.log.1", (old, old))
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[0] == "removed t.log.1"
        assert not (logs / "t.log.1").exists()
        assert (other / "t.log.1").exists()


def test_logs_shows_a_list_field_once_escaped(setup: tuple[Path, Path]) -> None:
    """A list or mapping is shown as its JSON, not as a JSON string of its JSON."""
    config, logs = setup
    write(logs / "t.log", event(time.time(), "config_reloaded", changed=["app", "health"]))
    result = run("logs", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith('config_reloaded changed=["app", "health"]')
