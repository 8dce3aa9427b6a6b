"""The held socket: restarts under load refuse no connection and fail no request."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import fast_config, free_port, pid_gone, poll
from tests.loadgen import Load
from tests.served import (
    COMMANDS,
    IN_FLIGHT,
    RATE,
    assert_nothing_lost,
    held_config,
    restarts_under_load,
)
from watchdog.process.heldsocket import with_socket

pytest.importorskip("uvicorn")

RESTARTS = 2

def _config(port: int, strategy: str, *, workers: int = 1, env: dict | None = None) -> dict:
    command = [*COMMANDS["uvicorn"], "--workers", str(workers)]
    return held_config(port, command, strategy, env)


def _get(port: int, path: str = "/health") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5, trust_env=False)


@pytest.mark.parametrize("strategy", ["stop_start", "overlap"])
def test_the_demo_restarts_under_load_fail_nothing(run_watchdog, strategy: str) -> None:
    """The demo answers what it took before it exits: its restarts lose no request."""
    port = free_port()
    watchdog = run_watchdog(held_config(port, COMMANDS["demo"], strategy))
    report = restarts_under_load(watchdog, port, RESTARTS)
    assert report.counts == {"ok": len(report.outcomes)}, report.counts


@pytest.mark.parametrize("strategy", ["stop_start", "overlap"])
def test_uvicorn_restarts_under_load_refuse_nothing(run_watchdog, strategy: str) -> None:
    """Nothing refused, nothing lost: the old child is taken off the socket first."""
    port = free_port()
    watchdog = run_watchdog(_config(port, strategy))
    report = restarts_under_load(watchdog, port, RESTARTS)
    assert_nothing_lost(report.counts, watchdog.events("child_quiesced"), RESTARTS)


@pytest.mark.parametrize("strategy", ["stop_start", "overlap"])
def test_probe_triggered_restarts_under_load_refuse_nothing(run_watchdog, strategy: str) -> None:
    """/health turns 503 after 1.5 s while the API still serves: restarts keep coming."""
    port = free_port()
    watchdog = run_watchdog(_config(port, strategy, env={"UNHEALTHY_AFTER": "1.5"}))
    watchdog.wait_for("child_healthy", timeout=30)
    report = Load(port, RATE, 4.0, IN_FLIGHT).start().join(timeout=30)
    restarts = watchdog.events("restart_triggered")
    assert restarts, "the failing health check should have restarted the app during the load"
    assert all("failed" in r["reason"] for r in restarts)
    assert_nothing_lost(report.counts, watchdog.events("child_quiesced"), len(restarts))


def test_crash_loses_only_what_was_in_flight(run_watchdog) -> None:
    port = free_port()
    watchdog = run_watchdog(_config(port, "stop_start"))
    watchdog.wait_for("child_healthy", timeout=30)
    load = Load(port, RATE, 3.0, "/work?ms=0").start()
    time.sleep(1.0)
    with pytest.raises(httpx.HTTPError):
        _get(port, "/crash")  # the process dies answering it
    report = load.join(timeout=30)
    watchdog.wait_for("child_exited", timeout=10)
    watchdog.wait_for("child_healthy", count=2, timeout=30)
    failed = report.failed
    assert "refused" not in report.counts, report.counts
    # Only requests the dying process had already taken can fail: a handful at 100/s.
    assert len(failed) <= 5, report.counts
    assert {o.result for o in failed} <= {"reset", "empty answer"}, report.counts


def test_overlap_with_a_new_child_failing_at_boot_keeps_the_old_one(
    run_watchdog, tmp_path: Path
) -> None:
    port = free_port()
    marker, sick = tmp_path / "bad-deploy", tmp_path / "sick"
    env = {"CRASH_AT_BOOT_IF": str(marker), "UNHEALTHY_IF": str(sick)}
    watchdog = run_watchdog(_config(port, "overlap", env=env))
    [first] = watchdog.wait_for("child_healthy", timeout=30)
    marker.touch()
    load = Load(port, RATE, 3.0, IN_FLIGHT).start()
    time.sleep(0.5)
    watchdog.send(signal.SIGUSR1)
    [failed] = watchdog.wait_for("restart_failed", timeout=30)
    report = load.join(timeout=30)
    assert failed["serving_pid"] == first["pid"]
    assert "exited while starting" in failed["reason"]
    assert report.counts == {"ok": len(report.outcomes)}, report.counts
    assert _get(port).json()["pid"] == first["pid"]
    stopping = watchdog.events("child_stopping")
    assert [e["pid"] for e in stopping] == [failed["pid"]], "only the failed new child stops"
    assert watchdog.events("child_stopped")[0]["pid"] == failed["pid"]
    # Still watched: its failing probes trip the next restart (which fails again), and once
    # the deploy is fixed, a restart goes through.
    sick.touch()
    [_, retried] = watchdog.wait_for("restart_triggered", count=2, timeout=20)
    assert retried["pid"] == first["pid"]
    assert "consecutive failed probes" in retried["reason"]
    watchdog.wait_for("restart_failed", count=2, timeout=30)
    marker.unlink()
    watchdog.wait_for("child_stopped", timeout=60, pid=first["pid"])
    sick.unlink()
    [_, second] = watchdog.wait_for("child_healthy", count=2, timeout=30)
    assert second["pid"] != first["pid"]


def test_a_new_child_dying_while_the_old_one_drains_is_a_crash(run_watchdog) -> None:
    """The overlap's new child accepts, then dies while the old one finishes a long request:
    its exit is handled like any crash (logged, restarted), not missed."""
    port = free_port()
    watchdog = run_watchdog(_config(port, "overlap"))
    [first] = watchdog.wait_for("child_healthy", timeout=30)
    slow = Load(port, 1, 1.0, "/work?ms=3000").start()  # keeps the old child draining
    time.sleep(0.3)
    watchdog.send(signal.SIGUSR1)
    [accepting] = watchdog.wait_for("child_accepting", timeout=30)
    os.kill(accepting["pid"], signal.SIGKILL)
    [exited] = watchdog.wait_for("child_exited", timeout=20)
    assert exited["pid"] == accepting["pid"]
    assert exited["signal"] == signal.SIGKILL
    assert slow.join(timeout=30).counts == {"ok": 1}, "the old child finished its request"
    # The killed child never answered a probe of its own: the next healthy one is its heir.
    [_, heir] = watchdog.wait_for("child_healthy", count=2, timeout=30)
    assert heir["pid"] not in (first["pid"], accepting["pid"])


def test_a_stop_during_an_overlap_cancels_it(run_watchdog) -> None:
    port = free_port()
    watchdog = run_watchdog(_config(port, "overlap"))
    watchdog.wait_for("child_healthy", timeout=30)
    watchdog.send(signal.SIGUSR1)
    watchdog.wait_for("child_started", count=2, timeout=30)
    watchdog.send(signal.SIGTERM)  # while the new child boots
    assert watchdog.wait_exit(timeout=30) == 0
    assert watchdog.events("restart_cancelled")
    assert not watchdog.events("restart_failed"), "a stop is not a failed restart (no alert)"
    pids = [e["pid"] for e in watchdog.events("child_started")]
    assert all(pid_gone(pid) for pid in pids)


def test_uvicorn_workers_share_the_held_socket(run_watchdog) -> None:
    port = free_port()
    watchdog = run_watchdog(_config(port, "overlap", workers=2))
    watchdog.wait_for("child_healthy", timeout=30)
    load = Load(port, RATE, 3.0, IN_FLIGHT).start()
    time.sleep(1.0)
    watchdog.send(signal.SIGUSR1)
    report = load.join(timeout=30)
    watchdog.wait_for("child_accepting", timeout=30)
    watchdog.wait_for("child_healthy", count=2, timeout=30)
    assert_nothing_lost(report.counts, watchdog.events("child_quiesced"), 1)
    served_by = {_get(port).json()["pid"] for _ in range(20)}
    assert served_by, "the new workers answer"


def test_unix_socket_is_held_and_probed(run_watchdog, tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    config = _config(free_port(), "stop_start")
    config["app"]["listen"] = f"unix:{path}"
    config["health"]["url"] = "http://api/health"  # the host only names the Host header
    watchdog = run_watchdog(config)
    [first] = watchdog.wait_for("child_healthy", timeout=30)
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, trust_env=False) as client:
        assert client.get("http://api/health").json()["pid"] == first["pid"]
        watchdog.send(signal.SIGUSR1)
        [_, second] = watchdog.wait_for("child_healthy", count=2, timeout=30)
        assert client.get("http://api/health").json()["pid"] == second["pid"]
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit(timeout=20) == 0
    assert not path.exists(), "the watchdog removes the socket file it made"


def test_socket_from_systemd_survives_a_restart_of_the_watchdog(tmp_path: Path) -> None:
    """Like a .socket unit: the test holds the socket; two watchdogs in turn serve it."""
    port = free_port()
    held = socket.create_server(("127.0.0.1", port), backlog=2048)
    config = _config(port, "stop_start")
    config["app"]["listen"] = "systemd"
    (tmp_path / "watchdog.yaml").write_text(__import__("yaml").safe_dump(config))

    def start_watchdog() -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "watchdog", "run", "--config", "watchdog.yaml"]
        return subprocess.Popen(
            with_socket(tuple(command), held.fileno(), "http"),
            cwd=tmp_path,
            pass_fds=(held.fileno(),),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    first = start_watchdog()
    try:
        poll(lambda: _answers(port), timeout=30)
        load = Load(port, RATE, 3.0, IN_FLIGHT).start()
        time.sleep(0.5)
        first.send_signal(signal.SIGTERM)
        assert first.wait(20) == 0
        second = start_watchdog()  # what systemd does on a restart of the service
        report = load.join(timeout=30)
        log = tmp_path / "logs" / "held.log"
        events = [json.loads(line) for line in log.read_text().splitlines()]
        quiesced = [event for event in events if event["event"] == "child_quiesced"]
        assert_nothing_lost(report.counts, quiesced, 1)
    finally:
        for process in (first, locals().get("second")):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(20)
        held.close()


def _answers(port: int) -> bool:
    try:
        return _get(port).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="a new PID namespace needs root here")
def test_pid_1_in_a_container_reaps_every_orphan(tmp_path: Path) -> None:
    """As PID 1 of a new PID namespace, orphans of the app's daemons are reaped too."""
    import psutil
    import yaml

    port = free_port()
    config = fast_config(port, ["--orphans"])
    (tmp_path / "watchdog.yaml").write_text(yaml.safe_dump(config))
    command = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
    command += [sys.executable, "-m", "watchdog"]
    try:
        unshare = subprocess.Popen(
            [*command, "run", "--config", "watchdog.yaml"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        pytest.skip("unshare is not installed")
    try:
        if unshare.poll() is not None:
            pytest.skip("cannot make a PID namespace here")
        poll(lambda: _answers(port), timeout=30)

        [init] = psutil.Process(unshare.pid).children()  # the watchdog, PID 1 inside

        def adopted() -> list[psutil.Process]:
            app = min(init.children(), key=lambda p: p.create_time())
            return [p for p in init.children() if p.pid != app.pid]

        # The app double-forks a short-lived daemon every 100 ms: each one's end is an
        # orphan's exit that only PID 1 can collect.
        poll(adopted, timeout=10)
        time.sleep(1.0)  # ten more orphans born and dead
        zombies = [p.pid for p in adopted() if not _reaped(p.pid)]
        for pid in zombies:  # unreaped, they would pile up at ten a second
            poll(lambda pid=pid: _reaped(pid), timeout=2)
        app_tree = [p.pid for p in init.children()]
        init.send_signal(signal.SIGTERM)  # what `docker stop` sends to PID 1
        assert unshare.wait(20) == 0, "SIGTERM to the container: a clean stop, exit 0"
        assert all(pid_gone(pid) for pid in app_tree), "nothing outlives the container's PID 1"
    finally:
        if unshare.poll() is None:
            unshare.kill()
            unshare.wait(10)


def _reaped(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _loopback6_port() -> int | None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            return probe.getsockname()[1]
    except OSError:
        return None


def test_the_bundled_demo_overlaps_on_ipv6(run_watchdog) -> None:
    """The demo serves the held socket (`--fd`) and waits with epoll, so overlap sees it."""
    port = _loopback6_port()
    if port is None:
        pytest.skip("no IPv6 loopback here")
    config = fast_config(
        port,
        [],
        health={"url": f"http://[::1]:{port}/health", "startup_timeout": "10s"},
        restart={"strategy": "overlap"},
    )
    config["app"] = {
        "name": "demo6",
        "command": [sys.executable, "-m", "watchdog.demo", "--fd", "{fd}"],
        "listen": f"[::1]:{port}",
    }
    watchdog = run_watchdog(config)
    [first] = watchdog.wait_for("child_healthy", timeout=20)
    [listening] = watchdog.wait_for("listening")
    assert listening["address"] == f"[::1]:{port}"
    watchdog.send(signal.SIGUSR1)
    [accepting] = watchdog.wait_for("child_accepting", timeout=20)
    [stopped] = watchdog.wait_for("child_stopped", timeout=20)
    assert stopped["pid"] == first["pid"]
    assert accepting["pid"] != first["pid"]
    [_, second] = watchdog.wait_for("child_healthy", count=2, timeout=20)
    assert second["pid"] == accepting["pid"]
    assert second["downtime"] is None  # the socket was never without a server
    # The socket cannot move on a reload: the command was written for this one.
    config["app"]["listen"] = f"[::1]:{free_port()}"
    watchdog.write_config(config)
    watchdog.send(signal.SIGHUP)
    [refused] = watchdog.wait_for("reload_failed", timeout=10)
    assert "restart the watchdog to change it" in refused["errors"][0]


def test_the_demo_answers_every_request_it_accepted_before_exiting() -> None:
    """SIGTERM to the demo while requests arrive: the ones it took are answered before it
    exits, the others wait in the backlog for its successor; none is reset or cut short."""
    held = socket.create_server(("127.0.0.1", 0), backlog=2048)
    port = held.getsockname()[1]
    command = (sys.executable, "-m", "watchdog.demo", "--fd", "3")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            with_socket(command, held.fileno(), "http"),
            pass_fds=(held.fileno(),),
            stdout=subprocess.DEVNULL,
        )

    serving = [start()]
    try:
        load = Load(port, 200, 30.0, "/work?ms=50").start()
        for _ in range(3):
            time.sleep(0.4)  # requests in flight, more arriving
            old = serving[-1]
            old.send_signal(signal.SIGTERM)
            serving.append(start())
            assert old.wait(10) == 0
        time.sleep(0.4)
        load.stop()
        report = load.join(timeout=30)
    finally:
        for process in serving:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        held.close()
    assert len(report.outcomes) >= 200
    assert report.counts == {"ok": len(report.outcomes)}, report.counts
