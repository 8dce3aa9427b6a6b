"""End to end: a real `watchdog run` supervising real misbehaving processes."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import fast_config, free_port, pid_gone, poll


def _between(events: list[dict], first: dict, last: dict) -> list[dict]:
    start, end = events.index(first), events.index(last)
    return events[start + 1 : end]


def test_hang_restarted_after_exactly_max_failures(run_watchdog) -> None:
    """An app alive but not answering is restarted on its third failed probe, not before."""
    port = free_port()
    watchdog = run_watchdog(fast_config(port, ["--hang-after", "0.5"]))
    [healthy] = watchdog.wait_for("child_healthy")
    [restart] = watchdog.wait_for("restart_triggered", timeout=10)
    events = watchdog.events()
    failures = [e for e in _between(events, healthy, restart) if e["event"] == "probe_failed"]
    assert [f["consecutive"] for f in failures] == [1, 2, 3]
    assert all("no answer within 200ms" in f["error"] for f in failures)
    assert "3 consecutive failed probes" in restart["reason"]
    [stopped] = watchdog.wait_for("child_stopped")
    assert stopped["pid"] == healthy["pid"]
    assert stopped["exit"] == "exit code 0" or "SIGTERM" in stopped["exit"]
    [_, started] = watchdog.wait_for("child_started", count=2)
    assert started["previous_pid"] == healthy["pid"]
    [_, back] = watchdog.wait_for("child_healthy", count=2)
    assert back["pid"] == started["pid"]
    assert 0 < back["downtime"] < 5
    assert pid_gone(healthy["pid"])


def test_crash_at_boot_is_a_crash_loop(run_watchdog) -> None:
    """A child that dies at boot max_crashes times exits the watchdog with code 3."""
    port = free_port()
    config = fast_config(
        port, ["--crash-after", "0"], restart={"crash_loop": {"max_crashes": 3, "window": "1m"}}
    )
    watchdog = run_watchdog(config)
    assert watchdog.wait_exit(timeout=20) == 3
    assert len(watchdog.events("child_exited")) == 3
    assert all(e["exit"] == "exit code 7" for e in watchdog.events("child_exited"))
    [loop] = watchdog.events("crash_loop")
    assert loop["level"] == "error"
    assert "3 crashes within 1m" in loop["reason"]
    lines = [e["line"] for e in watchdog.events("child_output")]
    assert "fault_app: crashing at boot" in lines


def test_sigterm_ignored_means_sigkill_after_stop_timeout(run_watchdog) -> None:
    """A child that ignores SIGTERM is SIGKILLed once stop_timeout has passed."""
    port = free_port()
    config = fast_config(port, ["--ignore-term"], app={"stop_timeout": "1s"})
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    watchdog.send(signal.SIGUSR1)
    [stopped] = watchdog.wait_for("child_stopped")
    assert stopped["pid"] == healthy["pid"]
    assert stopped["sigkilled"] >= 1
    assert stopped["exit"] == "killed by SIGKILL (sent by the watchdog: the stop timeout ran out)"
    assert 1.0 <= stopped["took"] < 1.5
    watchdog.wait_for("child_healthy", count=2)


def test_never_healthy_is_a_failed_start(run_watchdog) -> None:
    """A child that never answers within startup_timeout is stopped and retried."""
    port = free_port()
    config = fast_config(port, ["--boot-delay", "60"], health={"startup_timeout": "500ms"})
    watchdog = run_watchdog(config)
    [failed, _] = watchdog.wait_for("child_failed_start", count=2)
    assert "startup_timeout (500ms)" in failed["reason"]
    stopped = watchdog.wait_for("child_stopped", count=2)
    started = watchdog.events("child_started")[:2]
    assert [s["pid"] for s in stopped] == [s["pid"] for s in started]
    scheduled = watchdog.wait_for("restart_scheduled", count=2)
    assert [s["delay"] for s in scheduled] == [0.0, 0.1]
    assert all(e["level"] == "debug" for e in watchdog.events("probe_failed"))
    watchdog.wait_for("child_started", count=3)


def test_command_not_found_is_loud_and_fatal(run_watchdog, tmp_path: Path) -> None:
    """A command gone since start-up cannot be restarted: reported, and as it persists, exit 3.

    (One missing at start-up is a config error: exit 2, see test_config_errors.py.)
    """
    port = free_port()
    config = fast_config(port, [], restart={"crash_loop": {"max_crashes": 3, "window": "1m"}})
    program = tmp_path / "vanishing-app"
    program.write_text("#!/bin/sh\nrm -f \"$0\"\nexit 1\n")
    program.chmod(0o755)
    config["app"]["command"] = [str(program)]
    watchdog = run_watchdog(config)
    assert watchdog.wait_exit(timeout=10) == 3
    failures = watchdog.events("spawn_failed")
    assert len(failures) == 2
    assert "command not found" in failures[0]["error"]


def test_output_lines_tagged_and_awkward_output_survived(run_watchdog) -> None:
    """Binary bytes, a 100 kB line and an unterminated line reach the log and harm nothing."""
    port = free_port()
    watchdog = run_watchdog(fast_config(port, ["--noisy-output"]))
    watchdog.wait_for("child_healthy")
    watchdog.wait_for("child_output", stream="stderr", line="after the long line")
    lines = [e for e in watchdog.events("child_output") if e["stream"] == "stdout"]
    assert any(e["line"].startswith("binary \ufffd\ufffd") for e in lines)
    long_pieces = [e["line"] for e in lines if set(e["line"]) == {"L"}]
    assert sum(len(piece) for piece in long_pieces) == 100_000
    assert max(len(piece) for piece in long_pieces) <= 16 * 1024
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit() == 0
    assert any(
        e["line"].startswith("partial line without end") for e in watchdog.events("child_output")
    )


def _alive(pids: list[int]) -> list[tuple[int, str, int]]:
    """(pid, status, parent) of each of `pids` that still exists, for a failure's message."""
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            found.append((pid, process.status(), process.ppid()))
    return found


class TestGrandchildren:
    """No process of the child's tree outlives a restart, a crash or the watchdog."""

    def _start(self, run_watchdog, tmp_path: Path, *extra: str):
        pid_file = tmp_path / "grandchildren.pids"
        watchdog = run_watchdog(
            fast_config(free_port(), ["--grandchildren", str(pid_file), *extra])
        )
        watchdog.wait_for("child_started")
        pids = poll(
            lambda: (
                [int(p) for p in pid_file.read_text().split()]
                if pid_file.exists() and len(pid_file.read_text().split()) == 3
                else None
            ),
            timeout=10,
        )
        pid_file.write_text("")  # the next child appends its own
        return watchdog, pids

    def test_none_left_after_a_restart(self, run_watchdog, tmp_path: Path) -> None:
        """A SIGUSR1 restart takes the grandchildren (in the group, out of it, orphaned) too."""
        watchdog, pids = self._start(run_watchdog, tmp_path)
        assert all(psutil.pid_exists(pid) for pid in pids)
        watchdog.wait_for("child_healthy")
        watchdog.send(signal.SIGUSR1)
        [stopped] = watchdog.wait_for("child_stopped")
        assert stopped["processes"] >= 4, (stopped, pids, _alive(pids))
        assert stopped["survivors"] == 0, stopped
        try:
            poll(lambda: all(pid_gone(pid) for pid in pids), timeout=5)
        except AssertionError:
            raise AssertionError(f"still there: {_alive(pids)}; {stopped}") from None

    def test_none_left_after_a_crash(self, run_watchdog, tmp_path: Path) -> None:
        """When the child crashes, the processes it spawned are stopped before the restart."""
        watchdog, pids = self._start(run_watchdog, tmp_path, "--crash-after", "1")
        [orphans] = watchdog.wait_for("orphans_stopped", timeout=10)
        assert orphans["count"] == 3
        assert orphans["survivors"] == 0
        poll(lambda: all(pid_gone(pid) for pid in pids), timeout=5)

    def test_none_left_after_the_watchdog_stops(self, run_watchdog, tmp_path: Path) -> None:
        """SIGTERM to the watchdog stops the child's whole tree before it exits 0."""
        watchdog, pids = self._start(run_watchdog, tmp_path)
        child = watchdog.child_pid()
        watchdog.wait_for("child_healthy")
        watchdog.send(signal.SIGTERM)
        assert watchdog.wait_exit() == 0
        assert all(pid_gone(pid) for pid in [child, *pids])


class TestSignals:
    def test_sigterm_and_sigint_stop_gracefully(self, run_watchdog) -> None:
        """SIGTERM or SIGINT stop the child with its stop signal and exit 0."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            watchdog = run_watchdog(fast_config(free_port(), []))
            [healthy] = watchdog.wait_for("child_healthy")
            watchdog.send(signum)
            assert watchdog.wait_exit() == 0
            [stopped] = watchdog.events("child_stopped")
            assert stopped["sigkilled"] == 0
            assert pid_gone(healthy["pid"])
            os.unlink(watchdog.log_path)

    def test_sigusr1_restarts_now(self, run_watchdog) -> None:
        """SIGUSR1 restarts a healthy child at once, with the reason logged."""
        watchdog = run_watchdog(fast_config(free_port(), []))
        [healthy] = watchdog.wait_for("child_healthy")
        watchdog.send(signal.SIGUSR1)
        [restart] = watchdog.wait_for("restart_triggered")
        assert restart["reason"] == "requested by SIGUSR1"
        [_, back] = watchdog.wait_for("child_healthy", count=2)
        assert back["pid"] != healthy["pid"]

    def test_sighup_reloads_a_valid_config(self, run_watchdog) -> None:
        """SIGHUP with a changed health section applies it without restarting the child."""
        port = free_port()
        config = fast_config(port, [])
        watchdog = run_watchdog(config)
        watchdog.wait_for("child_healthy")
        config["health"]["max_failures"] = 5
        watchdog.write_config(config)
        watchdog.send(signal.SIGHUP)
        [reloaded] = watchdog.wait_for("config_reloaded")
        assert reloaded["changed"] == ["health"]
        assert watchdog.events("restart_triggered") == []

    def test_sighup_with_a_bad_config_keeps_the_old_one(self, run_watchdog) -> None:
        """An invalid config on SIGHUP is reported and supervision goes on unchanged."""
        port = free_port()
        config = fast_config(port, [])
        watchdog = run_watchdog(config)
        watchdog.wait_for("child_healthy")
        config["health"]["interval"] = "soon"
        watchdog.write_config(config)
        watchdog.send(signal.SIGHUP)
        [failed] = watchdog.wait_for("reload_failed")
        assert any("health.interval" in line for line in failed["errors"])
        count = len(watchdog.events("probe_ok"))
        watchdog.wait_for("probe_ok", count=count + 2)

    def test_sighup_with_a_new_command_restarts_the_child(self, run_watchdog) -> None:
        """A changed app section takes effect by restarting the child."""
        port = free_port()
        config = fast_config(port, [])
        watchdog = run_watchdog(config)
        watchdog.wait_for("child_healthy")
        config["app"]["env"] = {"FAULT_APP_MARK": "2"}
        watchdog.write_config(config)
        watchdog.send(signal.SIGHUP)
        [restart] = watchdog.wait_for("restart_triggered")
        assert "config reloaded" in restart["reason"]
        watchdog.wait_for("child_healthy", count=2)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's"
)
def test_child_dies_with_a_killed_watchdog(run_watchdog) -> None:
    """SIGKILL of the watchdog takes the direct child with it (parent-death signal)."""
    watchdog = run_watchdog(fast_config(free_port(), []))
    [healthy] = watchdog.wait_for("child_healthy")
    watchdog.send(signal.SIGKILL)
    watchdog.wait_exit()
    poll(
        lambda: (
            not psutil.pid_exists(healthy["pid"])
            or psutil.Process(healthy["pid"]).status() == psutil.STATUS_ZOMBIE
        ),
        timeout=5,
    )


def test_sigterm_during_a_restart_starts_nothing_new(run_watchdog) -> None:
    """A stop request that arrives while a restart is stopping the child ends it there."""
    config = fast_config(free_port(), ["--ignore-term"], app={"stop_timeout": "1s"})
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    watchdog.send(signal.SIGUSR1)
    watchdog.wait_for("child_stopping")
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit() == 0
    assert len(watchdog.events("child_started")) == 1


