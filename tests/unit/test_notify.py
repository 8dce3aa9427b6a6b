"""sd_notify over a real datagram socket, and the heartbeat that gates WATCHDOG=1."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchdog.outputs.notify import Heartbeat, Notifier, ping_interval


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(2.0)
    yield server, path
    server.close()


def received(server: socket.socket) -> str:
    return server.recv(4096).decode()


def test_messages_arrive_as_datagrams(listener: tuple[socket.socket, str]) -> None:
    server, path = listener
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    notifier.ready()
    notifier.reloading()
    notifier.stopping()
    assert received(server) == "READY=1"
    reloading = received(server).split("\n")
    assert reloading[0] == "RELOADING=1"
    assert reloading[1].startswith("MONOTONIC_USEC=")
    assert int(reloading[1].split("=")[1]) > 0
    assert received(server) == "STOPPING=1"


def test_status_is_one_line_and_sent_only_on_change(listener: tuple[socket.socket, str]) -> None:
    server, path = listener
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.status("api: running\npid 5")
    notifier.status("api: running pid 5")
    notifier.status("api: exited")
    assert received(server) == "STATUS=api: running pid 5"
    assert received(server) == "STATUS=api: exited"


def test_abstract_socket_names_are_understood() -> None:
    name = f"watchdog-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    server.settimeout(2.0)
    try:
        Notifier({"NOTIFY_SOCKET": "@" + name}).ping()
        assert received(server) == "WATCHDOG=1"
    finally:
        server.close()


@pytest.mark.parametrize("value", [None, "", "vsock:2:1234", "relative/path"])
def test_without_a_usable_socket_it_is_silent(value: str | None) -> None:
    environ = {} if value is None else {"NOTIFY_SOCKET": value}
    notifier = Notifier(environ)
    assert not notifier.enabled
    assert notifier.send("READY=1") is False


def test_a_vanished_socket_is_not_an_error(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.send("READY=1") is False
    notifier.close()


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # another process's
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_ping_interval_is_half_of_watchdog_usec(
    environ: dict[str, str], interval: float | None
) -> None:
    assert ping_interval(environ) == interval


def test_heartbeat_stops_when_the_loop_stops_turning() -> None:
    heartbeat = Heartbeat(tolerance=10)
    assert not heartbeat.alive(0)  # never beat yet
    heartbeat.beat(0)
    assert heartbeat.alive(10)
    assert not heartbeat.alive(10.1)
