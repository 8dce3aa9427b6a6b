"""The snapshot's pure parts: file names, pruning, fd kinds, py-spy's notes, the rendering."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchdog.cli.snapshotview import render_snapshot
from watchdog.diagnostics import pyspy
from watchdog.diagnostics import snapshot as diagnostics
from watchdog.diagnostics.procinfo import fd_kind, is_python

AT = datetime(2025, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("health check failed 3 times", "health-check-failed-3-times"),
        (
            "memory critical (92.5% of cgroup v2 /api.service)",
            "memory-critical-92-5-of-cgroup-v2-api-service",
        ),
        ("RSS 1.5GB > max_rss 1GB", "rss-1-5gb-max-rss-1gb"),
        ("!!!", "restart"),
        ("x" * 100, "x" * 48),
    ],
)
def test_slug(reason: str, expected: str) -> None:
    """A reason becomes a short, lower-case file-name part."""
    assert diagnostics.slug(reason) == expected


def test_snapshot_name_is_utc_time_app_and_reason() -> None:
    """Names sort by time; a clash within a millisecond gets a counter."""
    assert diagnostics.snapshot_name(AT, "api", "hung") == "20250304T050607.891Z-api-hung.json"
    assert (
        diagnostics.snapshot_name(AT, "api", "hung", attempt=2)
        == "20250304T050607.891Z-2-api-hung.json"
    )


def _snapshot(directory: Path, app: str, name: str, age_days: float = 0.0) -> Path:
    path = directory / name
    path.write_text(json.dumps({"app": app, "format": 1}, separators=(",", ":")))
    when = time.time() - age_days * 86400
    os.utime(path, (when, when))
    return path


def test_prune_keeps_the_newest_and_drops_the_old(tmp_path: Path) -> None:
    """Count and age both apply; other apps' files and other files are left alone."""
    ours = [
        _snapshot(tmp_path, "api", f"20250304T05060{second}.000Z-api-hung.json")
        for second in range(5)
    ]
    clash = _snapshot(tmp_path, "api", "20250304T050604.000Z-2-api-hung.json")
    old = _snapshot(tmp_path, "api", "20250101T000000.000Z-api-hung.json", age_days=31)
    other_app = _snapshot(tmp_path, "api-2", "20250101T000000.000Z-api-2-hung.json", 40)
    unrelated = tmp_path / "notes.json"
    unrelated.write_text("{}")
    removed = diagnostics.prune(tmp_path, "api", keep=3, max_age_days=30)
    assert sorted(removed) == sorted([old, ours[0], ours[1], ours[2]])
    assert sorted(tmp_path.iterdir()) == sorted([ours[3], ours[4], clash, other_app, unrelated])
    assert diagnostics.snapshots(tmp_path, "api") == [ours[3], ours[4], clash]


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("socket:[12345]", "socket"),
        ("pipe:[678]", "pipe"),
        ("anon_inode:[eventpoll]", "anon"),
        ("/var/log/api.log", "file"),
        ("/dev/null", "file"),
        ("net:[4026531840]", "other"),
    ],
)
def test_fd_kind(target: str, kind: str) -> None:
    """A descriptor's kind from its /proc link text."""
    assert fd_kind(target) == kind


@pytest.mark.parametrize(
    ("exe", "cmdline", "python"),
    [
        ("/usr/bin/python3.12", ["/usr/bin/python3", "-m", "uvicorn"], True),
        (None, ["/opt/venv/bin/python", "app.py"], True),
        ("/usr/bin/node", ["node", "server.js"], False),
        (None, [], False),
    ],
)
def test_is_python(exe: str | None, cmdline: list[str], python: bool) -> None:
    """Python processes are told by the interpreter's name, as run or as invoked."""
    assert is_python(exe, cmdline) is python


def test_failure_note_explains_missing_ptrace_rights() -> None:
    """A permission error says how to grant ptrace; others keep py-spy's own first line."""
    denied = pyspy.failure_note(
        41, "Permission Denied: Try running again with elevated permissions by going 'sudo'\n"
    )
    assert denied.startswith("py-spy could not attach to 41: Permission Denied")
    assert "CAP_SYS_PTRACE" in denied
    assert "AmbientCapabilities=CAP_SYS_PTRACE" in denied
    other = pyspy.failure_note(41, "\nError: Failed to find python version from target process\n")
    assert (
        other == "py-spy could not attach to 41: Failed to find python version from target process"
    )


def test_find_py_spy_takes_a_configured_path_or_name(tmp_path: Path) -> None:
    """A configured path must be executable; a configured name is looked up on PATH."""
    program = tmp_path / "py-spy"
    program.write_text("#!/bin/sh\n")
    assert pyspy.find_py_spy(str(program)) is None
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    assert pyspy.find_py_spy(str(program)) == str(program)
    assert pyspy.find_py_spy("no-such-program-here") is None


SNAPSHOT = {
    "app": "api",
    "format": 1,
    "reason": "health check failed 3 times",
    "time": "2025-03-04T05:06:07.891Z",
    "took": 0.12,
    "complete": False,
    "notes": ["py-spy not installed: no stacks"],
    "exit_info": None,
    "processes": [
        {
            "pid": 100,
            "ppid": 1,
            "name": "python3",
            "cmdline": ["python3", "app.py", "--port", "8000"],
            "status": "sleeping",
            "rss": 50 * 2**20,
            "uss": None,
            "threads": 4,
            "cpu_times": {"user": 1.5, "system": 0.25},
            "children": [],
            "python": True,
            "fds": {"socket": 14, "pipe": 2, "file": 3, "anon": 1, "other": 0},
            "connections": {"CLOSE_WAIT": 12, "LISTEN": 1},
            "stacks": 'Process 100: python3 app.py\nPython v3.11.7\n\nThread 100 (idle): "Main"\n'
            "    wait (app.py:3)\n",
        },
        {"pid": 101},  # could not be read
    ],
    "output_tail": ["started", "serving"],
    "history": [{"timestamp": f"t{i}", "rss_mb": i} for i in range(8)],
    "levels": {
        "memory": {"level": "warning", "value": 84.26},
        "response_time": {"level": "critical", "value": 5.0},
    },
    "trend": {"mb_per_hour": 120.5},
}


def test_render_snapshot_for_a_person() -> None:
    """Facts, a process table, connection states, stacks, output and the last samples."""
    text = "\n".join(render_snapshot(SNAPSHOT))
    assert "reason:  health check failed 3 times" in text
    assert "took:    0.12 s, INCOMPLETE" in text
    assert "note:    py-spy not installed: no stacks" in text
    assert "50.0MB" in text
    assert "14/2/3/1/0" in text
    assert "python3 app.py --port 8000" in text
    assert "100: CLOSE_WAIT 12, LISTEN 1" in text
    assert '  Thread 100 (idle): "Main"\n      wait (app.py:3)' in text
    assert "Python v3.11.7" not in text  # py-spy's header: the table already says it
    assert "  serving" in text
    assert "  memory                   warning   84.3%" in text
    assert "  response_time            critical  5.00s" in text
    assert "Memory trend: mb_per_hour=120.5" in text
    assert "Last samples (5 of 8):" in text
    assert "timestamp=t7 rss_mb=7" in text
    assert "timestamp=t2" not in text


def test_a_snapshot_shows_its_times_in_utc_and_no_placeholder_for_the_unknown() -> None:
    """The one time convention of every view; a figure not read shows as "-", not "?"."""
    snapshot = {
        **SNAPSHOT,
        "history": [{"timestamp": "2025-03-04T05:06:07+00:00", "rss_mb": 1}],
    }
    lines = render_snapshot(snapshot)
    assert lines[0] == "snapshot of api at 2025-03-04 05:06:07 UTC"
    text = "\n".join(lines)
    assert "timestamp=2025-03-04 05:06:07 UTC rss_mb=1" in text
    [unread] = [line for line in lines if line.lstrip().startswith("101 ")]
    assert "?" not in unread
    assert "None" not in unread
    bare = render_snapshot({})
    assert bare[:3] == [
        "snapshot of the app at an unknown time",
        "reason:  not recorded",
        "took:    - s, INCOMPLETE",
    ]
