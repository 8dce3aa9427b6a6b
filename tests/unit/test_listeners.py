"""The listening sockets behind the health port, from sock_diag and from /proc/net/tcp."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from watchdog.sensors import portowner
from watchdog.sensors.portowner import listening_inodes, proc_listening_inodes


def inode(sock: socket.socket) -> int:
    return os.fstat(sock.fileno()).st_ino


@pytest.fixture
def listeners() -> Iterator[tuple[int, socket.socket, socket.socket]]:
    """One port, listened on at 127.0.0.1 and at ::1."""
    v4 = socket.socket()
    v4.bind(("127.0.0.1", 0))
    port = v4.getsockname()[1]
    v6 = socket.socket(socket.AF_INET6)
    try:
        v6.bind(("::1", port))
    except OSError:
        v4.close()
        v6.close()
        pytest.skip("no IPv6 loopback here")
    v4.listen()
    v6.listen()
    yield port, v4, v6
    v4.close()
    v6.close()


@pytest.mark.parametrize(
    ("hosts", "which"),
    [
        (set(), {"v4", "v6"}),
        ({"127.0.0.1"}, {"v4"}),
        ({"::1"}, {"v6"}),
        ({"127.0.0.1", "::1"}, {"v4", "v6"}),
        ({"10.0.0.1"}, set()),
    ],
)
def test_the_listeners_of_a_port_are_found_by_the_addresses_they_take(
    listeners, hosts: set[str], which: set[str]
) -> None:
    port, v4, v6 = listeners
    inodes = {"v4": inode(v4), "v6": inode(v6)}
    expected = {inodes[name] for name in which}
    assert listening_inodes(port, hosts) == expected
    # The kernel's two tables agree: the dear /proc read is only a fallback.
    assert proc_listening_inodes(port, hosts) == expected


def test_a_socket_that_no_longer_listens_is_not_found(listeners) -> None:
    port, v4, v6 = listeners
    v4.close()
    assert listening_inodes(port, {"127.0.0.1", "::1"}) == {inode(v6)}


def test_the_check_does_not_read_the_whole_connection_table(listeners, monkeypatch) -> None:
    """/proc/net/tcp costs milliseconds per read on a busy host: with netlink it is not read."""
    port, v4, _ = listeners
    opened: list[str] = []
    real_open = open

    def watching_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", watching_open)
    assert inode(v4) in listening_inodes(port, {"127.0.0.1"})
    assert not [path for path in opened if path.startswith("/proc/net/")]


def test_without_netlink_the_proc_table_answers(listeners, monkeypatch) -> None:
    port, v4, _ = listeners

    def refused():  # type: ignore[no-untyped-def]
        raise PermissionError(1, "netlink forbidden here")

    monkeypatch.setattr(portowner, "tcp_listeners", refused)
    assert listening_inodes(port, {"127.0.0.1"}) == {inode(v4)}


def test_a_steady_app_is_not_walked_for_each_answer() -> None:
    """Its socket, once found in its tree, is known: later answers list no process."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    walks: list[int] = []

    def tree() -> list[int]:
        walks.append(1)
        return [os.getpid()]  # this process holds the listening socket, as the app would

    check = portowner.AnswerCheck(f"http://127.0.0.1:{server.getsockname()[1]}/health")
    try:
        assert [check.stranger(tree) for _ in range(3)] == [None] * 3
    finally:
        server.close()
    assert len(walks) == 1
