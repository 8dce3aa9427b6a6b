"""Reading the logs back: which files, merged events, rendering, and following."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from watchdog.cli.logview import category_files, follow, parse_line, read_events, render

T0 = 1_780_000_000.0  # a fixed moment, as a unix time


def stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def line(at: float, event: str, category: str = "main", **fields: Any) -> str:
    record = {"timestamp": stamp(at), "level": "info", "event": event, "category": category}
    return json.dumps({**record, "app": "t", **fields}, ensure_ascii=False)


def child(at: float, text: str, stream: str = "stdout") -> str:
    return line(at, "child_output", stream=stream, generation=1, line=text)


def write(path: Path, *lines: str) -> None:
    path.write_text("".join(item + "\n" for item in lines), "utf-8")


def append(path: Path, *lines: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(item + "\n" for item in lines))


def names(entries: list[dict[str, Any] | str]) -> list[str]:
    return [entry["event"] if isinstance(entry, dict) else f"text:{entry}" for entry in entries]


def test_category_files_orders_rotated_copies_oldest_first(tmp_path: Path) -> None:
    """Rotated copies come oldest (highest number) first, numerically, the live file last."""
    for name in ("t.log", "t.log.1", "t.log.2", "t.log.3", "t.log.10", "t.log.old", "t.log.1.gz"):
        (tmp_path / name).write_text("")
    (tmp_path / "t_health.log.1").write_text("")
    files = category_files(tmp_path, "t", "main")
    assert [path.name for path in files] == ["t.log.10", "t.log.3", "t.log.2", "t.log.1", "t.log"]
    assert all(path.parent == tmp_path for path in files)


def test_category_files_of_one_category_and_of_all(tmp_path: Path) -> None:
    """A category names its own files; "all" covers every category but error."""
    (tmp_path / "t_health.log.1").write_text("")
    (tmp_path / "t_error.log.1").write_text("")
    assert [p.name for p in category_files(tmp_path, "t", "health")] == [
        "t_health.log.1",
        "t_health.log",
    ]
    assert [p.name for p in category_files(tmp_path, "t", "error")] == [
        "t_error.log.1",
        "t_error.log",
    ]
    everything = [p.name for p in category_files(tmp_path, "t", "all")]
    assert everything == [
        "t.log",
        "t_performance.log",
        "t_health.log.1",
        "t_health.log",
        "t_memory.log",
    ]


@pytest.fixture
def merged_logs(tmp_path: Path) -> list[Path]:
    """Files of several categories with interleaved times, a copied event and odd lines."""
    write(tmp_path / "t.log.1", line(T0 + 0.2, "rotated_start"))
    write(
        tmp_path / "t.log",
        line(T0 + 1, "main_one"),
        child(T0 + 3, "the same output"),
        child(T0 + 3, "the same output"),
        "not json at all",
        "[1, 2, 3]",
        line(T0 + 5, "main_five"),
    )
    copied = line(T0 + 4, "probe_ok", category="health", latency=0.2)
    write(tmp_path / "t_health.log", line(T0 + 2, "health_two"), copied)
    write(tmp_path / "t_performance.log", line(T0 + 0.5, "sample_half"), copied)
    write(tmp_path / "t_memory.log")
    return category_files(tmp_path, "t", "all")


def test_read_events_merges_in_time_order(merged_logs: list[Path]) -> None:
    """Events of every file come in time order, a copy once, identical child lines twice."""
    entries = read_events(merged_logs)
    assert names(entries) == [
        "text:not json at all",  # no time: first
        "text:[1, 2, 3]",  # JSON but not an object: kept as text
        "rotated_start",
        "sample_half",
        "main_one",
        "health_two",
        "child_output",
        "child_output",
        "probe_ok",
        "main_five",
    ]
    outputs = [entry for entry in entries if isinstance(entry, dict) and "line" in entry]
    assert [entry["line"] for entry in outputs] == ["the same output"] * 2
    (probe,) = [
        entry for entry in entries if isinstance(entry, dict) and entry["event"] == "probe_ok"
    ]
    assert probe["latency"] == 0.2


def test_read_events_since(merged_logs: list[Path]) -> None:
    """`since` keeps the events at or after that unix time (lines without a time are left out)."""
    assert names(read_events(merged_logs, since=T0 + 3)) == [
        "child_output",
        "child_output",
        "probe_ok",
        "main_five",
    ]
    assert read_events(merged_logs, since=T0 + 60) == []


def test_read_events_skips_missing_files_and_directories(tmp_path: Path) -> None:
    """A missing file or a directory at a log path is read as empty."""
    (tmp_path / "t_health.log").mkdir()
    write(tmp_path / "t.log", line(T0, "only"))
    assert names(read_events(category_files(tmp_path, "t", "all"))) == ["only"]


def test_read_events_keeps_a_line_with_unicode_line_separators(tmp_path: Path) -> None:
    """A child line holding U+2028, U+2029 or U+0085 is read back as one event."""
    text = "a\u2028b\u2029c\x85d"
    write(tmp_path / "t.log", child(T0, text))
    (entry,) = read_events([tmp_path / "t.log"])
    assert isinstance(entry, dict)
    assert entry["line"] == text


def test_parse_line() -> None:
    """A JSON object is parsed; anything else is kept as the text it is."""
    assert parse_line('{"event": "x"}') == {"event": "x"}
    assert parse_line("plain") == "plain"
    assert parse_line('"a string"') == '"a string"'
    assert parse_line("") == ""


def test_render_an_event() -> None:
    """An event renders as time to the millisecond, level, event name, then key=value fields."""
    entry = json.loads(
        line(T0 + 0.4674, "probe_failed", status=503, error="connection refused", empty="")
    )
    entry["ok"] = False
    entry["ids"] = [1]
    entry["errors"] = ["a b", 'say "x"']
    entry["where"] = {"path": "/tmp"}
    expected_time = datetime.fromtimestamp(T0 + 0.4674, UTC).strftime("%Y-%m-%d %H:%M:%S.467")
    assert render(entry) == (
        f'{expected_time} UTC INFO     probe_failed status=503 error="connection refused" '
        'empty="" ok=false ids=[1] errors=["a b", "say \\"x\\""] where={"path": "/tmp"}'
    )


def test_render_shape_and_child_output() -> None:
    """Lines read 'YYYY-MM-DD HH:MM:SS.mmm UTC LEVEL event ...'; child output '[stream] line'."""
    event = json.loads(line(T0, "child_started", pid=7).replace('"info"', '"warning"'))
    shown = stamp(T0).replace("T", " ")[:23] + " UTC"
    assert render(event).startswith(shown + " WARNING  child_started")
    output = render(json.loads(child(T0, "serving on :8000", stream="stderr")))
    assert output == f"{shown} INFO     [stderr] serving on :8000"
    bare = render({"timestamp": "2026-11-26T17:07:52.467446Z", "level": "error", "event": "x"})
    assert bare == "2026-11-26 17:07:52.467 UTC ERROR    x"
    assert render("a text line") == "a text line"


def test_render_a_time_without_fraction() -> None:
    """A timestamp on a whole second still renders with milliseconds."""
    entry = {"timestamp": "2026-11-26T17:07:52Z", "level": "info", "event": "x"}
    assert render(entry) == "2026-11-26 17:07:52.000 UTC INFO     x"


def test_times_are_utc_and_say_so_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The view shows the file's UTC instant, marked; the local zone changes nothing."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        entry = {"timestamp": "2026-11-26T17:07:52.5+00:00", "level": "info", "event": "x"}
        assert render(entry) == "2026-11-26 17:07:52.500 UTC INFO     x"
        offset = {"timestamp": "2026-11-26T12:07:52-05:00", "level": "info", "event": "x"}
        assert render(offset) == "2026-11-26 17:07:52.000 UTC INFO     x"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def scripted(*steps: Callable[[], None] | None) -> Callable[[], bool]:
    """A keep_going for follow(): before poll N runs step N, then stops after the last step."""
    remaining = list(steps)

    def keep_going() -> bool:
        if not remaining:
            return False
        step = remaining.pop(0)
        if step is not None:
            step()
        return True

    return keep_going


def rotate(live: Path, *new_lines: str) -> Callable[[], None]:
    """Like the handler's rollover: the live file becomes .1 and a new live file is written."""

    def step() -> None:
        live.rename(live.with_name(live.name + ".1"))
        write(live, *new_lines)

    return step


def test_follow_emits_appended_lines_across_a_rotation(tmp_path: Path) -> None:
    """Each line appended after follow starts is emitted once, in order, across a rotation."""
    live = tmp_path / "t.log"
    write(live, "old one", "old two")  # already there: not emitted
    emitted: list[str] = []

    def partial() -> None:
        with open(live, "a", encoding="utf-8") as handle:
            handle.write("par")

    follow(
        [live, tmp_path / "missing.log"],
        emitted.append,
        keep_going=scripted(
            None,
            lambda: append(live, "a1", "a2"),
            lambda: append(live, "a3"),
            partial,
            lambda: append(live, "tial"),
            rotate(live, "b1"),
            None,
            lambda: append(live, "b2", "b3"),
            None,
        ),
        poll=0.01,
    )
    assert emitted == ["a1", "a2", "a3", "partial", "b1", "b2", "b3"]


def test_follow_reads_a_file_created_later_and_a_truncated_file(tmp_path: Path) -> None:
    """A live file that appears later is read whole; one truncated in place is read afresh."""
    live = tmp_path / "t.log"
    emitted: list[str] = []

    def truncate_and_write() -> None:
        write(live, "c1")  # shorter than what was read: a truncation

    follow(
        [live],
        emitted.append,
        keep_going=scripted(
            None,
            lambda: write(live, "first", "second"),
            lambda: append(live, "third"),
            truncate_and_write,
            None,
        ),
        poll=0.01,
    )
    assert emitted == ["first", "second", "third", "c1"]


def test_follow_several_files(tmp_path: Path) -> None:
    """Lines of several live files are all emitted, each file in its own order."""
    main, health = tmp_path / "t.log", tmp_path / "t_health.log"
    write(main)
    write(health)
    emitted: list[str] = []
    follow(
        [main, health],
        emitted.append,
        keep_going=scripted(lambda: (append(main, "m1", "m2"), append(health, "h1")), None),
        poll=0.01,
    )
    assert emitted == ["m1", "m2", "h1"]


def test_follow_keeps_lines_written_just_before_a_rotation(tmp_path: Path) -> None:
    """Lines appended right before a rotation, within one poll interval, are still emitted."""
    live = tmp_path / "t.log"
    write(live)
    emitted: list[str] = []

    def fill_then_rotate() -> None:
        append(live, "a2", "a3")  # the handler fills the file, then rolls over at once
        rotate(live, "b1")()

    follow(
        [live],
        emitted.append,
        keep_going=scripted(lambda: append(live, "a1"), fill_then_rotate, None),
        poll=0.01,
    )
    assert emitted == ["a1", "a2", "a3", "b1"]
