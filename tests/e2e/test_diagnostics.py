"""End to end: diagnostic snapshots of a real sick app (hung, leaking memory or sockets)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import APPS, free_port, pid_gone, poll, watchdog_command
from watchdog.cli.snapshotview import render_snapshot
from watchdog.diagnostics import procinfo, pyspy
from watchdog.diagnostics import snapshot as diagnostics

SICK_APP = APPS / "sick_app.py"
SLOW_PYSPY = APPS / "slow_pyspy.py"
HUNG_FUNCTION = "wait_for_the_lock_forever"
MARGIN = 1.0  # beyond its timeout, what a snapshot may take to give up and write the file


class SickApp:
    """The sick app as a real process; its output lines are collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(SICK_APP), "--port", str(self.port), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self.held: list[socket.socket] = []
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.wait_for_line("listening on")
        except AssertionError:
            self.stop()  # not yet known to the fixture, which stops the ones that started
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for_line(self, text: str, timeout: float = 5.0) -> str:
        def found() -> str | None:
            if self.process.poll() is not None:
                raise AssertionError(f"sick app exited early: {self.lines}")
            return next((line for line in self.lines if text in line), None)

        return poll(found, timeout, interval=0.01)

    def hang_a_request(self) -> None:
        """A request that will never be answered; the connection is kept open meanwhile."""
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        connection.sendall(b"GET /work HTTP/1.0\r\n\r\n")
        self.held.append(connection)
        self.wait_for_line("handler waiting for the lock")

    def stop(self) -> None:
        for connection in self.held:
            connection.close()
        self.process.kill()
        self.process.wait(5)


@pytest.fixture
def sick_app() -> Iterator[Any]:
    started: list[SickApp] = []

    def start(*args: str, env: dict[str, str] | None = None) -> SickApp:
        app = SickApp(*args, env=env)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


def arguments(directory: Path, **overrides: Any) -> dict[str, Any]:
    """capture()'s keyword arguments, with test defaults."""
    return {
        "reason": "health check failed 3 times",
        "app_name": "sick",
        "directory": directory,
        "timeout": 5.0,
        "output_tail": [],
        "history": [],
        "levels": {},
        "trend": None,
        "py_spy": None,
        "keep": 20,
        "max_age_days": 30,
        **overrides,
    }


def take(pids: list[int], directory: Path, **overrides: Any) -> tuple[Path, dict[str, Any]]:
    """A snapshot with test defaults; returns its path and its contents."""
    path = asyncio.run(diagnostics.capture(pids, **arguments(directory, **overrides)))
    assert path is not None
    return path, json.loads(path.read_text())


def slow_stand_in(directory: Path, started_file: Path) -> Path:
    """A `py-spy` that writes its pid to `started_file`, then sleeps 30 s."""
    stand_in = directory / "py-spy"
    stand_in.write_text(
        f'#!/bin/sh\necho $$ > "{started_file}"\nexec "{sys.executable}" "{SLOW_PYSPY}" "$@"\n'
    )
    stand_in.chmod(0o755)
    return stand_in


def skip_unless_stacks(snapshot: dict[str, Any], record: dict[str, Any]) -> None:
    """Skip the stacks assertion only, saying why, when py-spy is missing or kept out."""
    if pyspy.find_py_spy(None) is None:
        pytest.skip("py-spy is not installed (the `diagnostics` extra): no stacks to check")
    if "stacks" not in record:
        pytest.skip(f"py-spy could not attach here: {snapshot['notes']}")


def test_hung_app_snapshot_shows_where_the_thread_is_stuck(sick_app, tmp_path: Path) -> None:
    """The stacks name the function a hung handler blocks in; the file is 0640 in a 0750 dir."""
    app = sick_app("--hang")
    app.hang_a_request()
    directory = tmp_path / "logs" / "diagnostics"
    path, snapshot = take([app.pid], directory, output_tail=app.lines[-100:])
    assert path.parent == directory
    assert path.name.endswith("-sick-health-check-failed-3-times.json")
    assert directory.stat().st_mode & 0o027 == 0  # 0750, or tighter under a strict umask
    assert path.stat().st_mode & 0o777 == 0o640
    assert (snapshot["reason"], snapshot["app"]) == ("health check failed 3 times", "sick")
    assert snapshot["output_tail"][-1] == "sick_app: handler waiting for the lock"
    [record] = snapshot["processes"]
    assert (record["pid"], record["ppid"], record["python"]) == (app.pid, os.getpid(), True)
    assert record["threads"] >= 3  # main, the lifetime timer, the hung handler
    assert record["connections"].get("ESTABLISHED", 0) >= 1  # the hung request's
    assert record["fds"]["socket"] >= 2
    skip_unless_stacks(snapshot, record)
    assert HUNG_FUNCTION in record["stacks"]
    assert snapshot["complete"] is True, snapshot["notes"]


def test_leaking_app_snapshot_shows_rss_and_the_trend(sick_app, tmp_path: Path) -> None:
    """RSS as read at the time, and the leak trend the controller hands over, unchanged."""
    app = sick_app("--leak-mb-per-s", "200")
    start = psutil.Process(app.pid).memory_info().rss
    poll(lambda: psutil.Process(app.pid).memory_info().rss > start + 40 * 2**20, timeout=5)
    trend = {"mb_per_hour": 720000.0, "rss_mb": 80.0, "hours_to_critical": 0.01, "fit": 0.99}
    history = [{"timestamp": f"2025-01-01T00:00:0{i}Z", "rss_mb": 40.0 + i} for i in range(3)]
    _, snapshot = take(
        [app.pid],
        tmp_path,
        trend=trend,
        history=history,
        levels={"memory": {"level": "critical", "value": 93.4}},
    )
    [record] = snapshot["processes"]
    assert record["rss"] > start + 40 * 2**20
    assert record["uss"] is None or record["uss"] > 40 * 2**20
    assert snapshot["trend"] == trend
    assert snapshot["history"] == history
    shown = "\n".join(render_snapshot(snapshot))
    assert "Memory trend: mb_per_hour=720000.0" in shown
    assert "  memory                   critical  93.4%" in shown


def test_socket_leaking_app_snapshot_counts_its_connections(sick_app, tmp_path: Path) -> None:
    """Connections the app never closed show up counted by state: CLOSE_WAIT here."""
    leaked = 12
    app = sick_app("--leak-sockets", str(leaked))
    app.wait_for_line(f"leaked {leaked} sockets")
    _, snapshot = take([app.pid], tmp_path)
    [record] = snapshot["processes"]
    assert record["connections"]["CLOSE_WAIT"] == leaked
    assert record["connections"]["LISTEN"] == 1  # its HTTP port
    assert record["fds"]["socket"] == leaked + 1
    assert f"{app.pid}: CLOSE_WAIT {leaked}, LISTEN 1" in "\n".join(render_snapshot(snapshot))


def test_snapshot_gives_up_on_a_stuck_py_spy_at_its_timeout(sick_app, tmp_path: Path) -> None:
    """A py-spy that never answers is killed at the deadline; what was read is written."""
    app = sick_app()
    started_file = tmp_path / "stand-in.pid"
    stand_in = slow_stand_in(tmp_path, started_file)
    started = time.monotonic()
    _, snapshot = take([app.pid], tmp_path / "d", timeout=1.0, py_spy=str(stand_in))
    took = time.monotonic() - started
    assert took < 1.0 + MARGIN, f"took {took:.2f}s"
    assert snapshot["complete"] is False
    assert any("timed out after 1.0 s" in note for note in snapshot["notes"]), snapshot["notes"]
    [record] = snapshot["processes"]
    assert record["rss"] > 0  # what was read before the deadline is kept
    assert pid_gone(int(started_file.read_text()))  # killed, not left sleeping


def test_a_cancelled_snapshot_kills_its_py_spy(sick_app, tmp_path: Path) -> None:
    """A watchdog shutting down mid-snapshot leaves no py-spy behind."""
    app = sick_app()
    started_file = tmp_path / "stand-in.pid"
    stand_in = slow_stand_in(tmp_path, started_file)

    async def cancel_midway() -> None:
        task = asyncio.create_task(
            diagnostics.capture(
                [app.pid],
                **arguments(tmp_path / "d", reason="hung", timeout=20.0, py_spy=str(stand_in)),
            )
        )
        deadline = time.monotonic() + 5
        while not started_file.exists() or not started_file.read_text().strip():
            assert time.monotonic() < deadline, "the py-spy stand-in never started"
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Checked while the loop runs: asyncio.run's own clean-up must not be what kills it.
        deadline = time.monotonic() + 2
        while not pid_gone(int(started_file.read_text())):
            assert time.monotonic() < deadline, "the py-spy stand-in outlived the snapshot"
            await asyncio.sleep(0.01)

    asyncio.run(cancel_midway())


def test_snapshot_gives_up_on_a_stuck_proc_read_at_its_timeout(
    sick_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A /proc read that never returns costs the timeout, not the restart; partial data kept."""
    app = sick_app()
    release = threading.Event()
    real = procinfo.read_process

    def first_then_stuck(pids: Any, into: list, notes: list) -> None:
        into.append(real(app.pid, notes))
        release.wait(30)  # as a read of a process stuck in the kernel would

    monkeypatch.setattr(procinfo, "read_processes", first_then_stuck)
    try:
        started = time.monotonic()
        _, snapshot = take([app.pid, app.pid], tmp_path, timeout=0.5)
        took = time.monotonic() - started
    finally:
        release.set()
    assert took < 0.5 + MARGIN, f"took {took:.2f}s"
    assert snapshot["complete"] is False
    assert "timed out after 0.5 s reading /proc: 1 process(es) read" in snapshot["notes"]
    assert [record["pid"] for record in snapshot["processes"]] == [app.pid]


def test_no_environment_value_reaches_a_snapshot(
    sick_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret in the app's environment (and in a local of the hung frame) is never written."""
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    app = sick_app("--hang", env={"SECRET_TOKEN": secret})
    app.hang_a_request()

    def refuse(*_: Any) -> None:
        raise AssertionError("a snapshot must never read the environment")

    monkeypatch.setattr(psutil.Process, "environ", refuse)
    path, snapshot = take([app.pid], tmp_path, output_tail=app.lines)
    assert snapshot["processes"][0]["pid"] == app.pid
    assert secret.encode() not in path.read_bytes()
    assert "SECRET_TOKEN" not in path.read_text()


def test_snapshots_rotate_by_count_and_age(tmp_path: Path) -> None:
    """Only the `keep` newest stay; one older than max_age_days goes even within the count."""
    old = tmp_path / "20240101T000000.000Z-sick-hung.json"
    old.write_text('{"app":"sick","format":1}')
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    written = [take([], tmp_path, reason=f"hung {n}", keep=3)[0] for n in range(5)]
    assert not old.exists()
    assert diagnostics.snapshots(tmp_path, "sick") == written[-3:]
    assert sorted(tmp_path.iterdir()) == sorted(written[-3:])


def test_a_gone_process_and_an_unwritable_directory_never_raise(tmp_path: Path) -> None:
    """A pid that no longer exists is noted; a directory that cannot be made gives None."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(5)
    _, snapshot = take([process.pid], tmp_path)
    assert snapshot["processes"] == []
    assert snapshot["notes"] == [f"process {process.pid} was gone before it could be read"]
    blocker = tmp_path / "file"
    blocker.write_text("")
    path = asyncio.run(
        diagnostics.capture([], **arguments(blocker / "diagnostics", reason="x", timeout=1.0))
    )
    assert path is None


# -- under a running watchdog: a snapshot before each kill, and `watchdog restarts` -----------


def _supervised(port: int, app_args: list[str]) -> dict[str, Any]:
    from tests.conftest import fast_config

    config = fast_config(port, [], diagnostics={"timeout": "3s"}, resources={"interval": "200ms"})
    config["app"]["command"] = [sys.executable, str(SICK_APP), "--port", str(port), *app_args]
    return config


def test_a_hung_app_is_snapshotted_before_its_restart(run_watchdog) -> None:
    port = free_port()
    watchdog = run_watchdog(_supervised(port, ["--hang-health-after", "1"]))
    [healthy] = watchdog.wait_for("child_healthy")
    [restart] = watchdog.wait_for("restart_triggered", timeout=15)
    assert restart["pid"] == healthy["pid"]
    path = Path(restart["diagnostics"])
    snapshot = json.loads(path.read_text())
    assert snapshot["reason"] == restart["reason"]
    assert "sick_app: handler waiting for the lock" in snapshot["output_tail"]
    assert snapshot["history"], "the samples that led up to it"
    assert all("rss_mb" in sample for sample in snapshot["history"])
    [record] = [p for p in snapshot["processes"] if p["pid"] == healthy["pid"]]
    assert record["threads"] >= 2
    # The snapshot came first: the child was still alive and stopped only afterwards.
    watchdog.wait_for("child_stopping")  # logged right after, maybe not yet when read above
    events = [e["event"] for e in watchdog.events()]
    assert events.index("restart_triggered") < events.index("child_stopping")

    listed = watchdog_command(watchdog.config_path, "restarts")
    assert listed.returncode == 0, listed.stderr
    assert restart["reason"] in listed.stdout
    assert path.name in listed.stdout
    # Its number, not 1: the next child hangs too, and its restart may be listed already.
    numbered = [line.split()[0] for line in listed.stdout.splitlines()]
    number = numbered[numbered.index(path.name) - 1]  # its snapshot is listed under it
    shown = watchdog_command(watchdog.config_path, "restarts", "--show", number)
    assert shown.returncode == 0, shown.stderr
    assert str(healthy["pid"]) in shown.stdout
    skip_unless_stacks(snapshot, record)
    assert HUNG_FUNCTION in record["stacks"]
    assert HUNG_FUNCTION in shown.stdout


def test_a_crash_is_decoded_and_recorded(run_watchdog) -> None:
    from tests.conftest import fast_config

    port = free_port()
    watchdog = run_watchdog(fast_config(port, ["--crash-after", "1"]))
    [healthy] = watchdog.wait_for("child_healthy")
    [exited] = watchdog.wait_for("child_exited", timeout=10)
    assert exited["pid"] == healthy["pid"]
    assert exited["exit"] == "exit code 1"
    # A first crash with nothing left running: the app comes back first, then the snapshot.
    [_, again] = watchdog.wait_for("child_healthy", count=2, timeout=10)
    [written] = watchdog.wait_for("diagnostics_written", timeout=10)
    assert written["pid"] == healthy["pid"]
    assert written["timestamp"] > again["timestamp"], "taken after the new child answered"
    snapshot = json.loads(Path(written["diagnostics"]).read_text())
    assert snapshot["exit_info"] == {"code": 1, "signal": None, "description": "exit code 1"}
    assert snapshot["reason"] == "exited: exit code 1"
    assert any(str(port) in line for line in snapshot["output_tail"])


def test_a_sigkill_from_outside_is_told_apart(run_watchdog) -> None:
    import signal

    from tests.conftest import fast_config

    port = free_port()
    watchdog = run_watchdog(fast_config(port, []))
    [healthy] = watchdog.wait_for("child_healthy")
    os.kill(healthy["pid"], signal.SIGKILL)
    [exited] = watchdog.wait_for("child_exited", timeout=10)
    # No OOM kill was counted meanwhile (or no counter is readable here): never a bare guess
    # that hides the difference.
    assert exited["exit"].startswith("SIGKILL from outside")


def test_a_tree_over_its_cap_is_held_still_while_the_snapshot_is_taken(
    run_watchdog, tmp_path: Path
) -> None:
    """A hard cap stays hard: with a snapshot that takes its full 2 s (a stuck py-spy), a
    100 MB/s leak is frozen at the cap, not let grow by another 200 MB meanwhile."""
    from tests.conftest import fast_config

    stand_in = slow_stand_in(tmp_path, tmp_path / "stand-in.pid")
    config = fast_config(
        free_port(),
        ["--leak-mb-per-s", "100"],
        resources={"interval": "1h", "memory": {"max_rss": "150MB", "cap_interval": "50ms"}},
        diagnostics={"timeout": "2s", "py_spy": str(stand_in)},
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    child = psutil.Process(healthy["pid"])
    peak = 0

    def gone_after_peak() -> bool:
        nonlocal peak
        try:
            peak = max(peak, child.memory_info().rss)
            return child.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    poll(gone_after_peak, timeout=15, interval=0.02)
    [restart] = watchdog.wait_for("restart_triggered")
    snapshot = json.loads(Path(restart["diagnostics"]).read_text())
    assert snapshot["complete"] is False  # the stand-in was given up on at 2 s
    assert snapshot["took"] >= 1.9
    assert peak < 150 * 2**20 + 30 * 2**20, f"grew to {peak / 2**20:.0f} MB during the snapshot"


def test_a_stop_does_not_wait_out_a_snapshot(run_watchdog, tmp_path: Path) -> None:
    """SIGTERM while a snapshot waits on a stuck py-spy (timeout 30 s): the snapshot is
    dropped at once and the watchdog stops cleanly within seconds."""
    import signal

    started_file = tmp_path / "stand-in.pid"
    stand_in = slow_stand_in(tmp_path, started_file)
    config = _supervised(free_port(), ["--hang-health-after", "1"])
    config["diagnostics"] = {"timeout": "30s", "py_spy": str(stand_in)}
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    poll(started_file.exists, timeout=15)  # the snapshot has begun and is stuck
    asked = time.monotonic()
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit(timeout=15) == 0
    assert time.monotonic() - asked < 10
    [skipped] = watchdog.wait_for("diagnostics_skipped")
    assert skipped["detail"] == "the watchdog is stopping"
    assert pid_gone(healthy["pid"])
    assert pid_gone(int(started_file.read_text()))  # the stuck py-spy was killed too
