"""The console's choices and lines: pure, fed with isatty, the environment and events."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from watchdog.config import parse
from watchdog.outputs.console import (
    WIDTH,
    Heartbeat,
    choose_console,
    columns,
    fit,
    human_lines,
    startup_lines,
)
from watchdog.outputs.logs import Terminal, open_events

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = "2026-12-02T01:04:01.270958Z"


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("isatty", "env", "verbose", "human", "colour"),
    [
        (True, {}, False, True, True),
        (True, {"NO_COLOR": "1"}, False, True, False),
        (True, {"NO_COLOR": ""}, False, True, True),  # set but empty: colour stays
        (False, {}, False, False, False),
        (False, {}, True, False, False),
        (True, {"TERM": "xterm"}, True, True, True),
    ],
)
def test_choice_of_renderer(
    isatty: bool, env: dict[str, str], verbose: bool, human: bool, colour: bool
) -> None:
    choice = choose_console(isatty, env, verbose)
    assert (choice.human, choice.colour, choice.verbose) == (human, colour, verbose)


def test_per_tick_events_show_at_a_terminal_only_when_verbose() -> None:
    quiet, verbose, plain = (
        choose_console(True, {}),
        choose_console(True, {}, True),
        choose_console(False, {}),
    )
    for name in ("probe_ok", "resource_sample"):
        assert not quiet.shows(name, "info")
        assert verbose.shows(name, "info")
        assert plain.shows(name, "info")  # off a terminal: every event, as before
    assert not quiet.shows("probe_failed", "debug")  # a booting child's refused probes
    for name, level in [("child_started", "info"), ("probe_failed", "warning")]:
        assert quiet.shows(name, level)


def test_fit_cuts_to_the_width_counting_wide_characters_twice() -> None:
    assert fit("short") == "short"
    assert fit("x" * WIDTH) == "x" * WIDTH
    cut = fit("x" * 150)
    assert columns(cut) == WIDTH
    assert cut.endswith("…")
    wide = fit("界" * 80)
    assert columns(wide) <= WIDTH
    assert wide.endswith("…")


def test_a_long_event_fits_one_line_and_a_traceback_its_own_lines() -> None:
    event = {
        "timestamp": STAMP,
        "level": "error",
        "event": "something_odd",
        "category": "main",
        "app": "demo",
        "detail": "y" * 300,
        "exception": "Traceback (most recent call last):\n  " + "z" * 200 + "\nValueError: bad",
    }
    lines = human_lines(event, colour=False)
    assert lines[0].startswith("01:04:01Z ERROR something_odd detail=")
    assert "category" not in lines[0]
    assert "demo" not in lines[0]
    assert lines[-1] == "  ValueError: bad"
    assert all(columns(line) <= WIDTH for line in lines)


def test_colour_only_when_asked_and_never_counted_as_width() -> None:
    event = {"timestamp": STAMP, "level": "warning", "event": "probe_failed", "consecutive": 2,
             "of": 3, "error": "e" * 200}
    plain = human_lines(event, colour=False)
    painted = human_lines(event, colour=True)
    assert not ANSI.search(plain[0])
    assert ANSI.search(painted[0])
    assert ANSI.sub("", painted[0]) == plain[0]
    assert plain[0].startswith("01:04:01Z WARNING probe failed 2/3: eee")
    assert columns(plain[0]) == WIDTH


def test_sentences_for_what_a_person_reads() -> None:
    def shown(name: str, **fields: object) -> str:
        return human_lines({"timestamp": STAMP, "event": name, **fields}, colour=False)[0]

    assert shown("child_started", pid=7, previous_pid=None) == "01:04:01Z app started, pid 7"
    assert shown("child_started", pid=8, previous_pid=7).endswith("pid 8, replacing pid 7")
    assert shown("restart_triggered", pid=8, reason="3 failed probes").endswith(
        "restarting pid 8: 3 failed probes"
    )
    assert shown("child_exited", pid=8, exit="exit code 1", uptime=2.5).endswith(
        "app exited (exit code 1), pid 8, up 2.5s"
    )
    assert shown("child_stopped", pid=8, exit="SIGKILL", took=10.5, sigkilled=2, survivors=1) == (
        "01:04:01Z app stopped (SIGKILL), pid 8, in 10.5s, 2 process(es) needed SIGKILL,"
        " 1 still running"
    )
    # An event without a sentence: its fields, as journald has them.
    assert shown("signal_received", signal="SIGHUP") == "01:04:01Z signal_received signal=SIGHUP"


def _config(tmp_path: Path, **health: object) -> object:
    section = {"url": "http://user:hunter2@127.0.0.1:8000/health", **health}
    return parse(
        {"app": {"name": "t", "command": ["python3", "-m", "app", "--name", "a b" * 40]},
         "health": section, "resources": {"memory": {"max_rss": "300MB"}}},
        tmp_path,
    )


def test_startup_lines_say_what_runs_and_hide_the_url_password(tmp_path: Path) -> None:
    lines = startup_lines(_config(tmp_path, interval="30s"), verbose=False)
    text = "\n".join(lines)
    assert "hunter2" not in text
    assert "user" not in text
    assert "http://127.0.0.1:8000/health" in text
    assert "probe every 30s" in text
    assert "restart after 3 failures" in text
    assert "max_rss 300MB" in text
    assert str(tmp_path / "logs") in text
    assert "--verbose" in text
    assert lines[0].startswith("  command  python3 -m app --name")
    assert all(columns(line) <= WIDTH for line in lines)


def test_heartbeat_at_most_every_minute_with_what_the_events_said() -> None:
    beat = Heartbeat()
    assert beat.line("starting", now=0.0, wall=1000.0) is None  # just started: nothing new
    beat.feed({"event": "child_started", "pid": 5}, wall=1000.0)
    beat.feed({"event": "resource_sample", "rss_mb": 20.5, "cpu_percent": 1.5,
               "cpu_of": "2 cores"}, wall=1010.0)
    beat.feed({"event": "probe_ok", "latency": 0.0066}, wall=1011.0)
    assert beat.line("running", now=59.9, wall=1059.9) is None
    assert beat.line("running", now=60.0, wall=1125.0) == (
        "heartbeat: running, up 2m5s, rss 20.5 MB, cpu 1.5% of 2 cores, probe 7 ms"
    )
    assert beat.line("running", now=100.0, wall=1165.0) is None
    beat.feed({"event": "child_exited", "pid": 5}, wall=1166.0)
    beat.feed({"event": "probe_failed", "consecutive": 1}, wall=1166.0)
    line = beat.line("backoff", now=120.0, wall=1185.0)
    assert line is not None
    assert line.startswith("heartbeat: backoff, rss")
    assert "up " not in line
    assert "probe" not in line


def test_a_terminal_keeps_probes_in_the_files_only(tmp_path: Path) -> None:
    config = _config(tmp_path)
    for verbose in (False, True):
        console = FakeTty()
        events = open_events(config, console, Terminal(choose_console(True, {}, verbose)))
        events("watchdog_started", pid=1, version="1.0")
        events("probe_ok", category="health", status=200, latency=0.01)
        events("resource_sample", category="performance", rss_mb=1.0, cpu_percent=0.0)
        events("child_started", pid=2, previous_pid=None)
        events.child_output("stdout", ["o" * 300], 1)
        shown = ANSI.sub("", console.getvalue())
        assert "watchdog 1.0 started, pid 1" in shown
        assert "  health   http://127.0.0.1:8000/health" in shown
        assert "app started, pid 2" in shown
        assert ("probe_ok" in shown) is verbose
        assert ("resource_sample" in shown) is verbose
        assert all(columns(line) <= WIDTH for line in shown.splitlines())
    health = (tmp_path / "logs" / "t_health.log").read_text().splitlines()
    assert [json.loads(line)["event"] for line in health] == ["probe_ok", "probe_ok"]


def test_no_color_at_a_terminal(tmp_path: Path) -> None:
    console = FakeTty()
    terminal = Terminal(choose_console(True, {"NO_COLOR": "1"}))
    events = open_events(_config(tmp_path), console, terminal)
    events("child_exited", level="error", pid=2, exit="exit code 1", uptime=1.0)
    assert "ERROR app exited" in console.getvalue()
    assert "\x1b" not in console.getvalue()


def test_the_loop_turns_bring_the_heartbeat_to_a_terminal_only(tmp_path: Path) -> None:
    config = _config(tmp_path)
    at_terminal, piped = FakeTty(), io.StringIO()
    for console, isatty in ((at_terminal, True), (piped, False)):
        terminal = Terminal(choose_console(isatty, {"NO_COLOR": "1"}))
        terminal.heartbeat.every = 0.0  # every turn is a minute later
        events = open_events(config, console, terminal)
        events("resource_sample", category="performance", rss_mb=12.5, cpu_percent=3.0)
        events.turn("running")  # the first turn: start-up said how things stand
        events.turn("running")
    assert re.fullmatch(
        r"\d\d:\d\d:\d\dZ heartbeat: running, rss 12.5 MB, cpu 3%\n", at_terminal.getvalue()
    )
    assert "heartbeat" not in piped.getvalue()
