"""Operating a running watchdog: sd_notify on a real socket, status, restart and reload."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer

from tests.conftest import WatchdogProcess, fast_config, free_port, poll, watchdog_command

Start = Callable[[dict[str, Any]], WatchdogProcess]


class Datagrams:
    """A systemd stand-in: every datagram on a real AF_UNIX socket, with when it came."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[tuple[float, str]] = []
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._socket.settimeout(0.1)
        self._open = True
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while self._open:
            try:
                data = self._socket.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append((time.time(), data.decode()))

    def messages(self) -> list[str]:
        return [message for _, message in self.received]

    def first(self, prefix: str, timeout: float = 10.0) -> tuple[float, str]:
        return poll(
            lambda: next((m for m in list(self.received) if m[1].startswith(prefix)), None),
            timeout,
        )

    def close(self) -> None:
        self._open = False
        self._thread.join(2)
        self._socket.close()


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Datagrams]:
    listener = Datagrams(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(listener.path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # pings every 0.2 s
    yield listener
    listener.close()


def pings_between(listener: Datagrams, start: float, end: float) -> int:
    return sum(1 for at, m in listener.received if m == "WATCHDOG=1" and start <= at < end)


def test_sd_notify_speaks_in_order(run_watchdog: Start, systemd: Datagrams) -> None:
    """READY only once healthy, STATUS lines, pings only while the loop runs, reload, stop."""
    port = free_port()
    watchdog = run_watchdog(fast_config(port, ["--boot-delay", "0.5"]))
    ready_at, _ = systemd.first("READY=1")
    [healthy] = watchdog.wait_for("child_healthy")
    healthy_at = datetime_of(healthy)
    assert healthy_at <= ready_at
    before_ready = [m for at, m in systemd.received if at < healthy_at]
    assert "READY=1" not in before_ready
    assert any(m.startswith("STATUS=faulty: starting") for m in before_ready), before_ready
    poll(lambda: any(m.startswith("STATUS=faulty: running") for m in systemd.messages()), 5)

    # Pings come at about half of WATCHDOG_USEC while the loop turns ...
    time.sleep(1.0)
    now = time.time()
    assert pings_between(systemd, now - 1.0, now) >= 3
    # ... and stop while it cannot (a stopped process stands for a hung one).
    watchdog.send(signal.SIGSTOP)
    stopped_at = time.time()
    time.sleep(0.8)
    watchdog.send(signal.SIGCONT)
    assert pings_between(systemd, stopped_at + 0.05, stopped_at + 0.8) == 0
    poll(lambda: pings_between(systemd, time.time() - 1, time.time() + 1) > 0, 5)

    count = len(systemd.received)
    watchdog.send(signal.SIGHUP)
    watchdog.wait_for("config_reloaded")
    after_reload = poll(
        lambda: (
            [m for m in systemd.messages()[count:] if m != "WATCHDOG=1"]
            if any(m == "READY=1" for m in systemd.messages()[count:])
            else None
        ),
        5,
    )
    reloading = [m for m in after_reload if m.startswith("RELOADING=1")]
    assert reloading, after_reload
    assert "\nMONOTONIC_USEC=" in reloading[0]
    assert after_reload.index(reloading[0]) < after_reload.index("READY=1")

    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit() == 0
    assert "STOPPING=1" in systemd.messages()


def datetime_of(event: dict[str, Any]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(event["timestamp"]).timestamp()


def test_status_reports_ok_critical_and_not_running(run_watchdog: Start) -> None:
    port = free_port()
    config = fast_config(port, [], resources={"interval": "200ms"})
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    poll(lambda: watchdog_command(watchdog.config_path, "status").returncode == 0, 5)
    shown = watchdog_command(watchdog.config_path, "status")
    assert shown.stdout.startswith(
        f"OK: faulty: app running (pid {watchdog.child_pid()}), answering"
    )
    assert "\x1b[" not in shown.stdout  # no colour when not on a terminal
    document = json.loads(watchdog_command(watchdog.config_path, "status", "--json").stdout)
    assert document["verdict"]["code"] == 0
    assert document["child"]["pid"] == watchdog.child_pid()
    assert document["watchdog"]["pid"] == watchdog.pid
    assert document["last_probe"]["ok"] is True
    assert 0 < document["child"]["uptime"] <= document["watchdog"]["uptime"] < 30
    state_file = watchdog.workdir / "logs" / "faulty.state.json"
    assert oct(state_file.stat().st_mode & 0o777) == "0o640"

    # Memory "critical" at any real size: the verdict follows the level.
    config["resources"]["memory"] = {"warning": 0.001, "critical": 0.002, "sustain": "1h"}
    watchdog.write_config(config)
    watchdog.send(signal.SIGHUP)
    watchdog.wait_for("level_changed", metric="memory", status="critical")
    critical = poll(
        lambda: (
            (shown := watchdog_command(watchdog.config_path, "status")).returncode == 2
            and "memory critical" in shown.stdout
        ),
        5,
    )
    assert critical
    # A sick app is the watchdog's business: a container's liveness probe still passes.
    assert watchdog_command(watchdog.config_path, "status", "--liveness").returncode == 0

    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit() == 0
    gone = watchdog_command(watchdog.config_path, "status")
    assert (gone.returncode, gone.stdout.strip()) == (
        3,
        "UNKNOWN: faulty: not running (stopped, exit code 0)",
    )
    assert watchdog_command(watchdog.config_path, "status", "--liveness").returncode == 3


def test_a_busy_host_is_shown_but_is_no_verdict(run_watchdog: Start, tmp_path: Path) -> None:
    """Host memory critical (thresholds below any real figure): shown in status, logged as a
    warning, no error line, no alert, an OK verdict; resources.host.alert makes it count."""
    alerts = tmp_path / "alerts.jsonl"
    record = f"import sys; open({str(alerts)!r}, 'a').write(sys.stdin.read() + '\\n')"
    config = fast_config(
        free_port(),
        [],
        resources={
            "interval": "200ms",
            "host": {"memory": {"warning": 0.001, "critical": 0.002}},
        },
        alerts={"command": [sys.executable, "-c", record], "events": ["critical", "restart"]},
    )
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    [change] = watchdog.wait_for("level_changed", metric="host_memory", status="critical")
    assert (change["level"], change["context"]) == ("warning", True)
    status = poll(
        lambda: (shown := watchdog_command(watchdog.config_path, "status")).returncode == 0
        and "host_memory" in shown.stdout
        and shown,
        5,
    )
    assert status.stdout.startswith(f"OK: faulty: app running (pid {watchdog.child_pid()})")
    [row] = [line for line in status.stdout.splitlines() if "host_memory" in line]
    assert "critical" in row
    assert "not in the verdict" in row
    # An alert would have been queued with the transition; a restart alert after it shows
    # the alerter works and has had its chance.
    watchdog.send(signal.SIGUSR1)
    watchdog.wait_for("alert_sent", kind="restart")
    assert [event["kind"] for event in watchdog.events("alert_sent")] == ["restart"]
    assert "host_memory" not in (watchdog.workdir / "logs" / "faulty_error.log").read_text()

    config["resources"]["host"]["alert"] = True
    watchdog.write_config(config)
    watchdog.send(signal.SIGHUP)
    watchdog.wait_for("config_reloaded")
    counted = poll(
        lambda: (shown := watchdog_command(watchdog.config_path, "status")).returncode == 2
        and shown,
        5,
    )
    assert "host_memory critical" in counted.stdout


def test_liveness_fails_once_the_watchdog_gave_up(run_watchdog: Start) -> None:
    """A crash loop the watchdog gave up on (exit 3) is CRITICAL for the app, and the
    watchdog is gone: a container's liveness probe must fail, so that it is restarted."""
    config = fast_config(
        free_port(), ["--crash-after", "0"], restart={"crash_loop": {"max_crashes": 2}}
    )
    watchdog = run_watchdog(config)
    assert watchdog.wait_exit(timeout=20) == 3
    shown = watchdog_command(watchdog.config_path, "status")
    assert (shown.returncode, shown.stdout.splitlines()[0]) == (
        2,
        "CRITICAL: faulty: not running: gave up on a crash loop (exit code 3)",
    )
    assert "None" not in shown.stdout
    assert watchdog_command(watchdog.config_path, "status", "--liveness").returncode == 3


def test_status_does_not_trust_a_reused_pid(tmp_path: Path) -> None:
    """A state file naming a live process that is not the watchdog reads as not running."""
    config_path = tmp_path / "watchdog.yaml"
    config_path.write_text(yaml.safe_dump({"app": {"name": "ghost", "command": ["true"]}}))
    (tmp_path / "logs").mkdir()
    stale = {
        "app": "ghost",
        "written": time.time(),
        "watchdog": {"pid": os.getpid(), "create_time": 1.0, "running": True},
    }
    (tmp_path / "logs" / "ghost.state.json").write_text(json.dumps(stale))
    shown = watchdog_command(config_path, "status")
    assert shown.returncode == 3
    assert f"pid {os.getpid()} is gone or not ours" in shown.stdout
    refused = watchdog_command(config_path, "restart", "--force")
    assert refused.returncode == 3
    assert "the watchdog is not running" in refused.stderr
    (tmp_path / "logs" / "ghost.state.json").unlink()
    (tmp_path / "logs" / "ghost.state.json").mkdir()  # there, but unreadable (even for root)
    unreadable = watchdog_command(config_path, "status")
    assert unreadable.returncode == 3
    assert "cannot read the state file" in unreadable.stdout
    (tmp_path / "logs" / "ghost.state.json").rmdir()
    missing = watchdog_command(config_path, "reload")
    assert (missing.returncode, "there is no lock file" in missing.stderr) == (3, True)


def test_restart_command_honours_the_throttle_unless_forced(run_watchdog: Start) -> None:
    port = free_port()
    watchdog = run_watchdog(fast_config(port, [], restart={"min_interval": "1h"}))
    watchdog.wait_for("child_healthy")
    first_pid = watchdog.child_pid()

    now = watchdog_command(watchdog.config_path, "restart")
    assert now.returncode == 0
    assert now.stdout.startswith("watchdog: restarting faulty now\nwatchdog: faulty restarted")
    watchdog.wait_for("child_healthy", count=2)
    assert watchdog.child_pid() != first_pid

    throttled = watchdog_command(watchdog.config_path, "restart")
    assert throttled.returncode == 0
    assert re.fullmatch(
        r"watchdog: throttled \(one restart per 1h\): faulty restarts in (1h|59m\d+s);"
        r" --force restarts now\n",
        throttled.stdout,
    ), throttled.stdout
    [recommended] = watchdog.wait_for("RESTART_RECOMMENDED")
    assert recommended["reason"] == "requested by SIGUSR2"
    second_pid = watchdog.child_pid()

    forced = watchdog_command(watchdog.config_path, "restart", "--force")
    assert forced.returncode == 0
    assert forced.stdout.startswith("watchdog: restarting faulty now\nwatchdog: faulty restarted")
    watchdog.wait_for("child_healthy", count=3)
    assert watchdog.child_pid() != second_pid


def test_reload_command_reports_what_changed_and_bad_configs(run_watchdog: Start) -> None:
    port = free_port()
    config = fast_config(port, [])
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    config["health"]["interval"] = "400ms"
    watchdog.write_config(config)
    reloaded = watchdog_command(watchdog.config_path, "reload")
    assert (reloaded.returncode, reloaded.stdout.strip()) == (
        0,
        "watchdog: reloaded (changed: health)",
    )
    # A config that would fail to reload is refused before the watchdog is even signalled.
    config["health"]["max_failures"] = 0
    watchdog.write_config(config)
    failed = watchdog_command(watchdog.config_path, "reload")
    assert failed.returncode == 2
    assert "health.max_failures: expected a whole number of at least 1, got 0" in failed.stderr
    assert watchdog.events("reload_failed") == []
    assert watchdog.process.poll() is None
    # A new app section restarts the app; the answer still says what changed.
    config["health"]["max_failures"] = 3
    config["app"]["stop_timeout"] = "1s"
    watchdog.write_config(config)
    restarted = watchdog_command(watchdog.config_path, "reload")
    assert (restarted.returncode, restarted.stdout.strip()) == (
        0,
        "watchdog: reloaded (changed: app)",  # max_failures 0 never took effect
    )
    watchdog.wait_for("child_healthy", count=2)


def test_a_restart_is_alerted_and_counted_in_metrics(
    run_watchdog: Start, httpserver: HTTPServer
) -> None:
    """The operator's story: restart the app, get the webhook, see it in /metrics."""
    httpserver.expect_request("/hooks/T1/secret-token", method="POST").respond_with_data("ok")
    hook = httpserver.url_for("/hooks/T1/secret-token")
    metrics_port = free_port()
    config = fast_config(
        free_port(),
        [],
        alerts={"webhook": {"url": hook, "headers": {"Authorization": "Bearer t0ken-value"}}},
        metrics={"listen": f"127.0.0.1:{metrics_port}"},
    )
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    assert watchdog_command(watchdog.config_path, "restart", "--force").returncode == 0
    watchdog.wait_for("alert_sent", kind="restart")
    [(request, _)] = [entry for entry in httpserver.log if entry[0].path.endswith("token")]
    body = request.get_json()
    assert (body["event"], body["app"], body["reason"]) == (
        "restart",
        "faulty",
        "requested by SIGUSR1",
    )
    assert body["text"].startswith("[faulty@")
    assert "restart: requested by SIGUSR1" in body["text"]
    assert request.headers["Authorization"] == "Bearer t0ken-value"

    watchdog.wait_for("child_healthy", count=2)

    def scraped() -> dict[str, float] | None:
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
        values = {
            f"{sample.name}{dict(sample.labels)}": sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        up = values.get("watchdog_child_up{'app': 'faulty'}")
        return values if up == 1 else None

    values = poll(scraped, 5)
    assert values["watchdog_restarts_total{'app': 'faulty', 'reason': 'operator'}"] == 1
    assert values["watchdog_probes_total{'app': 'faulty', 'result': 'ok'}"] >= 1
    logs = (watchdog.workdir / "logs").rglob("*")  # the diagnostic snapshots as well
    written = [path.read_text() for path in logs if path.is_file()]
    everything = "\n".join([*written, watchdog.output()])
    assert "secret-token" not in everything
    assert "t0ken-value" not in everything


def test_an_alert_command_is_never_taken_for_part_of_the_app(run_watchdog: Start) -> None:
    """A command alerting a restart runs while the app is stopped: it must not be stopped,
    counted or reaped as the app's (its exit status belongs to the alerter)."""
    marker = "import sys, time; sys.stdin.read(); time.sleep(0.5); print('done')"
    config = fast_config(
        free_port(), [], alerts={"command": [sys.executable, "-c", marker], "events": ["restart"]}
    )
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    for round_ in range(1, 4):
        watchdog.send(signal.SIGUSR1)
        watchdog.wait_for("alert_sent", count=round_, kind="restart", target="command")
    assert watchdog.events("alert_failed") == []
    assert all(stopped["processes"] == 1 for stopped in watchdog.events("child_stopped"))


def test_the_watchdog_lifts_its_fd_limit_and_the_app_keeps_its_own(run_watchdog: Start) -> None:
    """Running out of descriptors must not blind the watchdog; the app sees the limit it
    would have had without a watchdog."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard <= 256:
        pytest.skip(f"the hard open-files limit here ({hard}) leaves nothing to lift")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        watchdog = run_watchdog(fast_config(free_port(), []))
        watchdog.wait_for("child_healthy")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    [started] = watchdog.events("watchdog_started")
    assert started["open_files_limit"] == hard
    assert psutil.Process(watchdog.pid).rlimit(psutil.RLIMIT_NOFILE) == (hard, hard)
    assert psutil.Process(watchdog.child_pid()).rlimit(psutil.RLIMIT_NOFILE) == (256, hard)


def test_a_reload_while_starting_up_does_not_tell_systemd_ready(
    run_watchdog: Start, systemd: Datagrams
) -> None:
    """systemd is still waiting for the start: no RELOADING/READY until the app is healthy."""
    watchdog = run_watchdog(fast_config(free_port(), ["--boot-delay", "1.5"]))
    watchdog.wait_for("child_started")
    watchdog.send(signal.SIGHUP)
    watchdog.wait_for("config_reloaded")
    ready_at, _ = systemd.first("READY=1")
    [healthy] = watchdog.wait_for("child_healthy")
    assert datetime_of(healthy) <= ready_at
    assert not [m for m in systemd.messages() if m.startswith("RELOADING=1")]
    assert systemd.messages().count("READY=1") == 1


def test_an_unforced_restart_does_not_cut_a_crash_backoff_short(run_watchdog: Start) -> None:
    config = fast_config(
        free_port(),
        ["--crash-after", "0.5"],
        restart={"backoff_initial": "20s", "backoff_max": "20s"},
    )
    watchdog = run_watchdog(config)
    watchdog.wait_for("restart_scheduled", count=2, timeout=15)  # the second crash waits 20s
    waiting = watchdog_command(watchdog.config_path, "restart")
    assert re.fullmatch(
        r"watchdog: faulty crashed and restarts in (1\d|20)s \(crash backoff\);"
        r" --force restarts now\n",
        waiting.stdout,
    ), waiting.stdout
    assert len(watchdog.events("child_started")) == 2
    forced = watchdog_command(watchdog.config_path, "restart", "--force")
    assert forced.stdout.startswith("watchdog: restarting faulty now\nwatchdog: faulty restarted")
    watchdog.wait_for("child_started", count=3, timeout=5)
