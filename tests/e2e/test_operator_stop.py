"""End to end: `watchdog stop` takes the app's tree down and keeps it down while the
watchdog runs on; `watchdog start` brings up a fresh child."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import psutil

from tests.conftest import fast_config, free_port, pid_gone, poll, watchdog_command


def _grandchildren(pid_file: Path) -> list[int]:
    return poll(
        lambda: (
            [int(p) for p in pid_file.read_text().split()]
            if pid_file.exists() and len(pid_file.read_text().split()) == 3
            else None
        ),
        timeout=10,
    )


def test_stop_keeps_the_app_down_until_start(run_watchdog, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchildren.pids"
    watchdog = run_watchdog(fast_config(free_port(), ["--grandchildren", str(pid_file)]))
    [healthy] = watchdog.wait_for("child_healthy")
    tree = [healthy["pid"], *_grandchildren(pid_file)]
    pid_file.write_text("")

    done = watchdog_command(watchdog.config_path, "stop")
    assert done.returncode == 0, done.stderr
    # A quick stop may be over before the command first reads the answer.
    assert done.stdout.removeprefix("watchdog: stopping faulty\n") == (
        "watchdog: faulty stopped by operator; `watchdog start` starts it again\n"
    )
    poll(lambda: all(pid_gone(pid) for pid in tree), timeout=5)
    [stopped] = watchdog.wait_for("child_stopped")
    assert stopped["survivors"] == 0

    status = watchdog_command(watchdog.config_path, "status")
    assert status.returncode == 1, status.stdout  # WARNING: down, on purpose
    assert "app stopped by operator" in status.stdout
    assert watchdog_command(watchdog.config_path, "status", "--liveness").returncode == 0

    # Neither a reload nor a restart request brings it back.
    watchdog.send(signal.SIGHUP)
    watchdog.wait_for("config_reloaded")
    refused = watchdog_command(watchdog.config_path, "restart", "--force")
    assert refused.returncode == 1
    assert "stopped by operator: use watchdog start" in refused.stderr
    state = json.loads((tmp_path / "logs" / "faulty.state.json").read_text())
    assert state["child"]["state"] == "stopped_by_operator"
    assert watchdog.process.poll() is None
    assert len(watchdog.events("child_started")) == 1
    names = [e["event"] for e in watchdog.events()]
    since = names[names.index("app_stopped_by_operator") :]
    assert not {"probe_ok", "probe_failed", "restart_planned"} & set(since), since

    started = watchdog_command(watchdog.config_path, "start")
    assert started.returncode == 0, started.stderr
    [_, second] = watchdog.wait_for("child_healthy", count=2)
    assert started.stdout.startswith(
        f"watchdog: starting faulty\nwatchdog: faulty started: pid {second['pid']} healthy"
    ), started.stdout
    assert second["pid"] != healthy["pid"]


def test_start_of_a_running_app_changes_nothing(run_watchdog) -> None:
    watchdog = run_watchdog(fast_config(free_port(), []))
    watchdog.wait_for("child_healthy")
    done = watchdog_command(watchdog.config_path, "start")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "watchdog: faulty is not stopped by operator: the app is running\n"
    assert len(watchdog.events("child_started")) == 1


def test_a_watchdog_that_does_not_take_stop_is_not_signalled(tmp_path: Path) -> None:
    """A real-time signal it does not handle would end an older watchdog: it is not sent."""
    config = tmp_path / "watchdog.yaml"
    config.write_text(json.dumps(fast_config(free_port(), [])))
    me = psutil.Process()
    older = {"watchdog": {"pid": me.pid, "create_time": me.create_time(), "running": True}}
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "faulty.state.json").write_text(json.dumps(older))
    refused = watchdog_command(config, "stop")
    assert refused.returncode == 1
    assert "does not take `watchdog stop` (an older version)" in refused.stderr
