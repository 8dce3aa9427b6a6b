"""The outputs hub: READY=1 gets through even when systemd's socket is busy at first."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.conftest import Reports
from watchdog.config import parse
from watchdog.outputs.hub import Outputs, status_line
from watchdog.outputs.notify import Notifier
from watchdog.outputs.statefile import REFRESH

LIVE = {"child": {"state": "running", "pid": 7, "healthy": True}, "levels": {}}


def test_ready_is_sent_again_until_it_gets_through(tmp_path: Path) -> None:
    config = parse({"app": {"command": ["x"]}, "state": {"dir": str(tmp_path)}}, tmp_path)
    path = tmp_path / "notify.sock"
    operations = Outputs(config, Reports(), notifier=Notifier({"NOTIFY_SOCKET": str(path)}))
    operations.healthy()  # nobody listens yet: lost
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(2)
    try:
        operations.turn(lambda: LIVE, "running")
        received = [listener.recv(4096).decode(), listener.recv(4096).decode()]
        assert received == ["READY=1", "STATUS=api: running pid 7"]
        operations.turn(lambda: LIVE, "running")
        listener.settimeout(0.2)
        try:
            extra = listener.recv(4096).decode()
        except TimeoutError:
            extra = None
        assert extra is None  # once through, READY=1 is not repeated
    finally:
        listener.close()


def test_status_line_names_what_is_wrong() -> None:
    live = {
        "child": {"state": "running", "pid": 7, "healthy": True},
        "levels": {"memory": {"level": "critical", "value": 95.0}, "cpu": {"level": "normal"}},
        "pending_restart": {"reason": "memory critical for 60s"},
    }
    assert status_line("api", live) == (
        "api: running pid 7; memory critical; restart pending: memory critical for 60s"
    )


def test_status_line_claims_no_health_it_does_not_know() -> None:
    """Whether the app still answers is not in the snapshot: "healthy" would be a guess."""
    live = {"child": {"state": "starting", "pid": None}, "pending_restart": {"reason": None}}
    assert status_line("api", live) == "api: starting; restart pending: no reason recorded"
    assert status_line("api", {}) == "api: unknown state"


def test_status_line_says_stopped_by_operator() -> None:
    live = {"child": {"state": "stopped_by_operator", "pid": None}}
    assert status_line("api", live) == "api: stopped by operator"


def test_metrics_show_every_level_the_state_file_shows(tmp_path: Path) -> None:
    """A metric that never changed level is in the metrics as 0, from the same levels."""
    raw = {
        "app": {"command": ["x"]},
        "state": {"dir": str(tmp_path)},
        "metrics": {"textfile": str(tmp_path / "api.prom")},
    }
    operations = Outputs(parse(raw, tmp_path), Reports())
    live = {**LIVE, "levels": {"memory": {"level": "normal", "value": 3.0}}}
    operations.turn(lambda: live, "running")
    assert 'watchdog_level{app="api",metric="memory"} 0\n' in (tmp_path / "api.prom").read_text()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def written(path: Path) -> str | None:
    return json.loads(path.read_text())["written"] if path.exists() else None


def test_the_state_file_is_rewritten_for_news_and_every_refresh_not_for_each_probe(
    tmp_path: Path,
) -> None:
    """At one-second checks, rewriting it after every probe and sample was about a sixth of the
    watchdog's CPU: routine news waits for the next refresh, anything else is told at once."""
    config = parse({"app": {"command": ["x"]}, "state": {"dir": str(tmp_path)}}, tmp_path)
    clock = Clock()
    operations = Outputs(config, Reports(), clock)
    path = operations.state.path
    walls = iter(range(1000, 2000))
    operations.state._wall = lambda: float(next(walls))  # one stamp a write

    def turn(event: str, **fields: object) -> str | None:
        clock.now += 1.0
        operations.emit(event, "info", "health", fields)
        operations.turn(lambda: LIVE, "running")
        return written(path)

    first = turn("probe_ok", status=200)  # the first probe: news
    assert first is not None
    assert turn("resource_sample", rss_mb=1.0) != first  # the first sample: news
    quiet = written(path)
    routine = int(REFRESH) - 2  # one-second turns, all within REFRESH of the last write
    assert [turn("probe_ok", status=200) for _ in range(routine)] == [quiet] * routine
    assert turn("resource_sample", rss_mb=1.0) == quiet
    assert turn("probe_ok", status=200) != quiet  # REFRESH since the last write
    failed = turn("probe_failed", consecutive=1, counted=True)
    assert json.loads(path.read_text())["last_probe"]["ok"] is False
    assert turn("probe_ok", status=200) != failed  # recovered: news
    assert json.loads(path.read_text())["last_probe"]["ok"] is True
    before = written(path)
    assert turn("level_changed", metric="memory", status="warning") != before
    assert operations.write_due() == clock.now + REFRESH
