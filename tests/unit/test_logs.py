"""Structured events: one file per category, the error file, child output, the console."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from watchdog.config import Config, parse
from watchdog.outputs.logs import FIRST_KEYS, Events, LogDirError, open_events


@pytest.fixture(autouse=True)
def _close_watchdog_handlers() -> Iterator[None]:
    """open_events installs handlers on the shared "watchdog" logger; remove them afterwards."""
    yield
    logger = logging.getLogger("watchdog")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def make_config(tmp_path: Path, name: str = "t", **settings: Any) -> Config:
    logging_section = {"dir": str(tmp_path / "logs"), **settings}
    return parse({"app": {"name": name, "command": ["x"]}, "logging": logging_section}, tmp_path)


def lines(path: Path) -> list[str]:
    # Split on "\n" only: a JSON line may hold characters str.splitlines() breaks on.
    return path.read_text("utf-8").split("\n")[:-1] if path.exists() else []


def events_in(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(path)]


def names_in(path: Path) -> list[str]:
    return [event["event"] for event in events_in(path)]


def check_first_keys(event: dict[str, Any], app: str = "t") -> None:
    assert tuple(event)[: len(FIRST_KEYS)] == FIRST_KEYS, event
    assert event["app"] == app
    stamp = event["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", stamp), stamp
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 60


def test_each_category_file_receives_its_events(tmp_path: Path) -> None:
    """Each category file holds exactly its events; error-level ones are also in the error file."""
    events = open_events(make_config(tmp_path), io.StringIO())
    events("main_event", pid=12)
    events("health_event", category="health", status=200)
    events("performance_event", category="performance", latency=0.01)
    events("memory_event", category="memory", rss_mb=12.5)
    events("health_error", level="error", category="health", error="refused")
    events("health_warning", level="warning", category="health")
    events("main_critical", level="critical")
    events("copied", category="health", also=("performance",), latency=0.2)

    logs = tmp_path / "logs"
    assert names_in(logs / "t.log") == ["main_event", "main_critical"]
    assert names_in(logs / "t_health.log") == [
        "health_event",
        "health_error",
        "health_warning",
        "copied",
    ]
    assert names_in(logs / "t_performance.log") == ["performance_event", "copied"]
    assert names_in(logs / "t_memory.log") == ["memory_event"]
    assert names_in(logs / "t_error.log") == ["health_error", "main_critical"]

    for file in logs.glob("t*.log"):
        for event in events_in(file):
            check_first_keys(event)
            assert "also" not in event
    by_name = {event["event"]: event for event in events_in(logs / "t_health.log")}
    assert (by_name["health_event"]["level"], by_name["health_event"]["status"]) == ("info", 200)
    assert by_name["health_error"]["level"] == "error"
    assert by_name["health_error"]["category"] == "health"
    assert by_name["health_error"]["error"] == "refused"
    assert by_name["copied"]["category"] == "health"
    assert by_name["copied"]["latency"] == 0.2
    # The copy is the very same line in both files, with no "also" key.
    copied = [line for line in lines(logs / "t_health.log") if '"copied"' in line]
    assert copied == [line for line in lines(logs / "t_performance.log") if '"copied"' in line]
    assert '"also"' not in copied[0]
    assert events_in(logs / "t_error.log")[1]["level"] == "critical"


def test_level_warning_drops_info_everywhere(tmp_path: Path) -> None:
    """With logging.level warning, info events and child output reach no file and no console."""
    console = io.StringIO()
    events = open_events(make_config(tmp_path, level="warning"), console)
    events("quiet_info")
    events("quiet_debug", level="debug")
    events("loud_warning", level="warning")
    events.child_output("stdout", ["a child line"], generation=1)
    assert names_in(tmp_path / "logs" / "t.log") == ["loud_warning"]
    assert "quiet" not in console.getvalue()
    assert "a child line" not in console.getvalue()
    assert "loud_warning" in console.getvalue()


def test_level_debug_keeps_debug_events(tmp_path: Path) -> None:
    """With logging.level debug, debug events are written with level "debug"."""
    console = io.StringIO()
    events = open_events(make_config(tmp_path, level="debug"), console)
    events("detail", level="debug", step=1)
    (event,) = events_in(tmp_path / "logs" / "t.log")
    assert (event["event"], event["level"], event["step"]) == ("detail", "debug", 1)
    assert "event=detail" in console.getvalue()
    assert events_in(tmp_path / "logs" / "t_error.log") == []


def test_default_level_info_drops_debug(tmp_path: Path) -> None:
    """At the default level (info) debug events are dropped."""
    events = open_events(make_config(tmp_path), io.StringIO())
    events("detail", level="debug")
    events("shown")
    assert names_in(tmp_path / "logs" / "t.log") == ["shown"]


CHILD_LINES = [
    "plain ascii",
    "ünïcödé ✓ 日本語 🐍",
    'quotes " and \\ backslashes \\" mixed',
    '{"looks": "like json"}',
    "tab\there",
    "",
]


def test_child_output_is_one_json_line_per_output_line(tmp_path: Path) -> None:
    """child_output writes one event per line with the usual first keys; the text survives."""
    console = io.StringIO()
    events = open_events(make_config(tmp_path), console)
    events.child_output("stdout", CHILD_LINES, generation=3)
    events.child_output("stderr", ["an error line"], generation=3)
    events.child_output("stdout", [], generation=3)

    written = events_in(tmp_path / "logs" / "t.log")
    assert len(written) == len(CHILD_LINES) + 1
    for event in written:
        check_first_keys(event)
        assert list(event) == [*FIRST_KEYS, "stream", "generation", "line"]
        assert (event["level"], event["event"], event["category"]) == (
            "info",
            "child_output",
            "main",
        )
        assert event["generation"] == 3
    assert [event["line"] for event in written] == [*CHILD_LINES, "an error line"]
    assert [event["stream"] for event in written] == ["stdout"] * len(CHILD_LINES) + ["stderr"]
    assert console.getvalue() == "".join(
        [f"stdout| {line}\n" for line in CHILD_LINES] + ["stderr| an error line\n"]
    )
    # Child output is main-category info: nothing in the other files.
    for category in ("health", "performance", "memory", "error"):
        assert lines(tmp_path / "logs" / f"t_{category}.log") == []


def test_child_output_app_name_is_json_escaped(tmp_path: Path) -> None:
    """The app name in child output lines is a proper JSON string (names may hold '.' or '-')."""
    events = open_events(make_config(tmp_path, name="my.api-2"), io.StringIO())
    events.child_output("stdout", ["x"], generation=1)
    (event,) = events_in(tmp_path / "logs" / "my.api-2.log")
    assert event["app"] == "my.api-2"


def test_logfmt_writes_key_value_lines(tmp_path: Path) -> None:
    """logging.format logfmt writes key=value lines, quoting values that need it."""
    events = open_events(make_config(tmp_path, format="logfmt"), io.StringIO())
    events("started", pid=12, command="a b", ok=True, previous=None, tags=["x"], quote='say "hi"')
    (line,) = lines(tmp_path / "logs" / "t.log")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    match = re.fullmatch(r"timestamp=(\S+) level=info event=started category=main app=t (.*)", line)
    assert match, line
    datetime.fromisoformat(match.group(1))
    assert match.group(2) == (
        'pid=12 command="a b" ok=true previous=null tags="[\\"x\\"]" quote="say \\"hi\\""'
    )


def test_logfmt_child_output_is_logfmt(tmp_path: Path) -> None:
    """With logging.format logfmt, child output lines are key=value lines too."""
    events = open_events(make_config(tmp_path, format="logfmt"), io.StringIO())
    events.child_output("stdout", ["hello world"], generation=2)
    (line,) = lines(tmp_path / "logs" / "t.log")
    assert re.fullmatch(
        r"timestamp=\S+ level=info event=child_output category=main app=t "
        r'stream=stdout generation=2 line="hello world"',
        line,
    ), line


def test_open_events_failure_keeps_the_old_events(tmp_path: Path) -> None:
    """A directory where a category file should be is a LogDirError; the old Events go on."""
    old = open_events(make_config(tmp_path), io.StringIO())
    old("before")
    (tmp_path / "logs" / "u_health.log").mkdir()
    with pytest.raises(LogDirError, match=r"logging\.dir: cannot open .*u_health\.log \(") as info:
        open_events(make_config(tmp_path, name="u"), io.StringIO())
    assert "Is a directory" in str(info.value)
    old("after")
    old("old_health", category="health")
    logs = tmp_path / "logs"
    assert names_in(logs / "t.log") == ["before", "after"]
    assert names_in(logs / "t_health.log") == ["old_health"]
    assert names_in(logs / "u.log") == []  # the new files opened so far were closed unused


def test_open_events_again_swaps_in_the_new_files(tmp_path: Path) -> None:
    """A second open_events (a reload) sends events to the new files only, once each."""
    first = open_events(make_config(tmp_path), io.StringIO())
    first("one")
    other = tmp_path / "other"
    second = open_events(make_config(other), io.StringIO())
    second("two")
    assert names_in(tmp_path / "logs" / "t.log") == ["one"]
    assert names_in(other / "logs" / "t.log") == ["two"]
    assert len(logging.getLogger("watchdog").handlers) == 6  # five files and the console


def test_plain_console_is_one_short_line_per_event(tmp_path: Path) -> None:
    """Off a terminal the console gets one key=value line per event, without time or app."""
    console = io.StringIO()
    assert not console.isatty()
    events = open_events(make_config(tmp_path), console)
    events("started", pid=12, note="two\nlines")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        events("crashed", level="error", exc_info=True)
    output = console.getvalue()
    assert output.endswith("\n")
    started, crashed = output.split("\n")[:-1]
    assert started == 'level=info event=started category=main pid=12 note="two\\nlines"'
    assert crashed.startswith("level=error event=crashed category=main exception=")
    assert "RuntimeError: boom" in crashed
    assert "timestamp" not in output
    assert "app=" not in output
    assert not re.search(r"\d{4}-\d\d-\d\dT", output)
    # The file keeps the whole traceback as a field.
    (error,) = events_in(tmp_path / "logs" / "t_error.log")
    assert error["event"] == "crashed"
    assert "RuntimeError: boom" in error["exception"]
    assert "Traceback" in error["exception"]


def test_a_failing_event_never_raises(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """An event that cannot be logged (an unknown level) is reported, not raised."""
    events = open_events(make_config(tmp_path), io.StringIO())
    assert isinstance(events, Events)
    events("odd", level="no_such_level")
    assert "watchdog: could not log odd" in capfd.readouterr().err
    events("fine")
    assert names_in(tmp_path / "logs" / "t.log") == ["fine"]


def test_a_fifo_where_a_log_file_belongs_fails_at_once(tmp_path: Path) -> None:
    """A FIFO with no reader is a clear LogDirError, not an open that blocks forever."""
    logs = tmp_path / "logs"
    logs.mkdir()
    os.mkfifo(logs / "t_memory.log")
    with pytest.raises(LogDirError, match=r"cannot open .*t_memory\.log \(") as info:
        open_events(make_config(tmp_path), io.StringIO())
    assert "No such device or address" in str(info.value)
