"""Alerts against real loopback receivers and real commands: delivery, failures, deadlines."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import psutil
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import Reports, free_port
from watchdog.config.operations import ALERT_KINDS, AlertsConfig, WebhookConfig
from watchdog.outputs.alerts import Alerter
from watchdog.outputs.events import Event

TOKEN = "XyZsecretTOKEN42"
PATH = f"/hooks/T0123/{TOKEN}"
HEADER = "Bearer sekrit-header-value"
TIMEOUT = 0.3
# Slack for a loaded CI machine; every "fast" or "by the deadline" claim is bounded by it.
MARGIN = 1.0
DEADLINE = 5.0  # the longest any wait for an outcome may last
STALL_CAP = 5.0  # the longest a stalled handler holds on, so a failed test never hangs
REASON = "health probe failed 3 times in a row: connection refused"
TEXT = f"[demo_api@web1] restart: {REASON}"
WRITE_STDIN = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_bytes(sys.stdin.buffer.read())"


class SecretCheckingReports(Reports):
    def assert_no_secret(self) -> None:
        for call in self.calls:
            shown = repr(call)
            assert TOKEN not in shown
            assert "/hooks/" not in shown
            assert "sekrit-header-value" not in shown


def alerts_config(
    url: str | None = None,
    *,
    timeout: float = TIMEOUT,
    command: tuple[str, ...] | None = None,
    command_timeout: float = TIMEOUT,
) -> AlertsConfig:
    headers = MappingProxyType({"Authorization": HEADER})
    return AlertsConfig(
        webhook=WebhookConfig(url, timeout, headers) if url else None,
        command=command,
        command_timeout=command_timeout,
        events=ALERT_KINDS,
        max_per_minute=1000,
    )


def restart() -> Event:
    return Event("restart_triggered", "warning", fields={"reason": REASON, "pid": 42}, wall=1e9)


async def until(condition: Callable[[], Any], timeout: float = DEADLINE) -> Any:
    """The first truthy value of `condition` within `timeout` seconds, or AssertionError."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)
    return value


def outcome(reports: Reports) -> Callable[[], list[dict[str, Any]]]:
    return lambda: reports.named("alert_sent") + reports.named("alert_failed")


@pytest.fixture
def stalling() -> Iterator[tuple[str, threading.Event]]:
    """A threaded loopback receiver that holds every request; yields its URL and `arrived`."""
    arrived, release = threading.Event(), threading.Event()
    server = HTTPServer(host="127.0.0.1", threaded=True)

    def stall(_request: Request) -> Response:
        arrived.set()
        release.wait(STALL_CAP)
        return Response("too late")

    server.expect_request(PATH).respond_with_handler(stall)
    server.start()
    try:
        yield server.url_for(PATH), arrived
    finally:
        release.set()  # let the handlers end, or stop() would wait for them
        server.clear()
        server.stop()


def gone(pid: int) -> bool:
    """Killed: no such process, or a zombie that init has not reaped yet."""
    try:
        return psutil.Process(pid).status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return True


def test_webhook_gets_a_json_post_with_headers_and_slack_text(httpserver: HTTPServer) -> None:
    """An accepting receiver gets a POST of the JSON body with the configured headers."""
    httpserver.expect_request(
        PATH, method="POST", headers={"Authorization": HEADER}
    ).respond_with_data("ok")
    reports = SecretCheckingReports()

    async def scenario() -> None:
        alerter = Alerter(alerts_config(httpserver.url_for(PATH)), "demo_api", reports, host="web1")
        alerter.on_event(restart())
        await until(outcome(reports))
        await alerter.aclose()

    asyncio.run(scenario())

    assert reports.named("alert_sent") == [
        {"category": "main", "kind": "restart", "target": "webhook"}
    ]
    [(request, response)] = httpserver.log
    assert response.status_code == 200
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.get_data())
    assert (body["event"], body["name"], body["app"], body["host"]) == (
        "restart",
        "restart_triggered",
        "demo_api",
        "web1",
    )
    assert body["reason"] == REASON
    assert body["time"] == "2001-09-09T01:46:40.000Z"
    assert body["text"] == TEXT
    reports.assert_no_secret()


def test_webhook_500_is_a_failure_without_secrets(httpserver: HTTPServer) -> None:
    """A 500 answer is an alert_failed naming the status, and no report shows a secret."""
    httpserver.expect_request(PATH, method="POST").respond_with_data("boom", status=500)
    reports = SecretCheckingReports()

    async def scenario() -> None:
        alerter = Alerter(alerts_config(httpserver.url_for(PATH)), "demo_api", reports, host="web1")
        alerter.on_event(restart())
        await until(outcome(reports))
        await alerter.aclose()

    asyncio.run(scenario())

    assert reports.named("alert_failed") == [
        {"level": "error", "kind": "restart", "target": "webhook", "error": "HTTP status 500"}
    ]
    reports.assert_no_secret()


def test_refused_webhook_is_a_failure_without_secrets() -> None:
    """Nobody listening is an alert_failed whose error names neither the path nor the token."""
    reports = SecretCheckingReports()
    url = f"http://127.0.0.1:{free_port()}{PATH}"

    async def scenario() -> None:
        alerter = Alerter(alerts_config(url), "demo_api", reports, host="web1")
        alerter.on_event(restart())
        await until(outcome(reports))
        await alerter.aclose()

    asyncio.run(scenario())

    [failed] = reports.named("alert_failed")
    assert failed["error"].startswith("ConnectError")
    reports.assert_no_secret()


def test_hanging_webhook_fails_by_its_timeout_and_never_slows_on_event(
    stalling: tuple[str, threading.Event],
) -> None:
    """While the receiver hangs on_event stays well under 10 ms; the send fails by its deadline."""
    url, arrived = stalling
    reports = SecretCheckingReports()
    durations: list[float] = []

    async def scenario() -> float:
        alerter = Alerter(alerts_config(url), "demo_api", reports, host="web1")
        started = time.monotonic()
        alerter.on_event(restart())
        await until(arrived.is_set)
        for _ in range(5):
            before = time.perf_counter()
            alerter.on_event(restart())
            durations.append(time.perf_counter() - before)
        await until(outcome(reports))
        failed_after = time.monotonic() - started
        await alerter.aclose(timeout=0.05)
        return failed_after

    failed_after = asyncio.run(scenario())

    assert max(durations) < 0.01
    assert reports.named("alert_failed")[0]["error"] == "no answer within 300ms"
    assert TIMEOUT * 0.9 <= failed_after < TIMEOUT + MARGIN
    reports.assert_no_secret()


def test_aclose_with_a_hanging_receiver_returns_within_its_timeout(
    stalling: tuple[str, threading.Event],
) -> None:
    """aclose cancels the hanging send at its timeout, and counts the unsent alerts as dropped."""
    url, arrived = stalling
    reports = SecretCheckingReports()

    async def scenario() -> float:
        alerter = Alerter(alerts_config(url, timeout=STALL_CAP), "demo_api", reports, host="web1")
        for _ in range(3):
            alerter.on_event(restart())
        await until(arrived.is_set)
        started = time.monotonic()
        await alerter.aclose(timeout=TIMEOUT)
        return time.monotonic() - started

    took = asyncio.run(scenario())

    assert TIMEOUT * 0.9 <= took < TIMEOUT + MARGIN
    assert reports.named("alert_failed") == [
        {"level": "error", "kind": "restart", "target": "webhook", "error": "cancelled at shutdown"}
    ]
    assert reports.named("alerts_dropped") == [{"level": "warning", "count": 2, "per_minute": 1000}]


def test_a_full_queue_counts_the_overflow_as_dropped(
    stalling: tuple[str, threading.Event],
) -> None:
    """Beyond 100 waiting alerts the rest are dropped; all unsent ones are reported once."""
    url, arrived = stalling
    reports = SecretCheckingReports()

    async def scenario() -> None:
        alerter = Alerter(alerts_config(url, timeout=STALL_CAP), "demo_api", reports, host="web1")
        for _ in range(105):
            alerter.on_event(restart())
        await until(arrived.is_set)
        await alerter.aclose(timeout=0.05)

    asyncio.run(scenario())

    # One was in flight when aclose cancelled it; 100 - 1 waited; 5 never fitted.
    assert len(reports.named("alert_failed")) == 1
    assert reports.named("alerts_dropped") == [
        {"level": "warning", "count": 104, "per_minute": 1000}
    ]


def test_command_gets_the_json_body_on_stdin(tmp_path: Path) -> None:
    """The command runs without a shell and reads the alert body on its stdin."""
    written = tmp_path / "alert.json"
    command = (sys.executable, "-c", WRITE_STDIN, str(written))
    reports = SecretCheckingReports()

    async def scenario() -> None:
        alerter = Alerter(
            alerts_config(command=command, command_timeout=DEADLINE),
            "demo_api",
            reports,
            host="web1",
        )
        alerter.on_event(restart())
        await until(outcome(reports))
        await alerter.aclose()

    asyncio.run(scenario())

    assert reports.named("alert_sent") == [
        {"category": "main", "kind": "restart", "target": "command"}
    ]
    body = json.loads(written.read_text())
    assert (body["event"], body["text"]) == ("restart", TEXT)
    assert body["fields"] == {"reason": REASON, "pid": 42}


def test_failing_command_reports_its_exit_code_and_last_stderr_line() -> None:
    """A nonzero exit is alert_failed with the code and stderr's last line, despite much output."""
    script = (
        "import sys; sys.stdout.write('x' * 1000000); sys.stderr.write('y' * 1000000 + '\\n');"
        "sys.stderr.write('pager unreachable: ' + 'z' * 300 + '\\n'); sys.exit(3)"
    )
    reports = SecretCheckingReports()

    async def scenario() -> None:
        config = alerts_config(command=(sys.executable, "-c", script), command_timeout=DEADLINE)
        alerter = Alerter(config, "demo_api", reports, host="web1")
        alerter.on_event(restart())
        await until(outcome(reports))
        await alerter.aclose()

    asyncio.run(scenario())

    [failed] = reports.named("alert_failed")
    assert failed["target"] == "command"
    assert failed["error"].startswith("exit code 3: pager unreachable: zzz")
    assert len(failed["error"]) <= 200


def test_hanging_command_is_killed_with_what_it_started(tmp_path: Path) -> None:
    """A command still running at command_timeout is killed, with its own children, and reported."""
    pids = tmp_path / "pids"
    script = (
        "import os, pathlib, subprocess, sys, time;"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']);"
        f"pathlib.Path({str(pids)!r}).write_text(f'{{child.pid}} {{os.getpid()}}');"
        "time.sleep(30)"
    )
    reports = SecretCheckingReports()
    timeout = 1.0  # room for two interpreters to start on a slow machine

    async def scenario() -> float:
        config = alerts_config(command=(sys.executable, "-c", script), command_timeout=timeout)
        alerter = Alerter(config, "demo_api", reports, host="web1")
        started = time.monotonic()
        alerter.on_event(restart())
        await until(outcome(reports))
        took = time.monotonic() - started
        await alerter.aclose()
        return took

    took = asyncio.run(scenario())

    assert reports.named("alert_failed") == [
        {
            "level": "error",
            "kind": "restart",
            "target": "command",
            "error": "no exit within 1s: killed",
        }
    ]
    assert timeout * 0.9 <= took < timeout + MARGIN
    for pid in map(int, pids.read_text().split()):
        deadline = time.monotonic() + DEADLINE
        while not gone(pid):
            assert time.monotonic() < deadline, f"pid {pid} still running"
            time.sleep(0.02)


def test_a_hanging_webhook_does_not_hold_up_the_command(
    stalling: tuple[str, threading.Event], tmp_path: Path
) -> None:
    """Each target has its own worker: the command alert goes out while the webhook hangs."""
    url, _ = stalling
    written = tmp_path / "alert.json"
    command = (sys.executable, "-c", WRITE_STDIN, str(written))
    reports = SecretCheckingReports()

    async def scenario() -> None:
        config = alerts_config(url, timeout=STALL_CAP, command=command, command_timeout=DEADLINE)
        alerter = Alerter(config, "demo_api", reports, host="web1")
        alerter.on_event(restart())
        await until(lambda: reports.named("alert_sent"))
        await alerter.aclose(timeout=0.05)

    asyncio.run(scenario())

    assert reports.named("alert_sent") == [
        {"category": "main", "kind": "restart", "target": "command"}
    ]
    assert json.loads(written.read_text())["text"] == TEXT
    assert [failed["target"] for failed in reports.named("alert_failed")] == ["webhook"]
