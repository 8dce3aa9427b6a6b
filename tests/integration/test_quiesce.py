"""Taking a real uvicorn off the held socket: it answers what it took and takes nothing more."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import APPS, poll
from watchdog.process import quiesce
from watchdog.process.heldsocket import socket_inode, with_socket
from watchdog.process.quiesce import stop_accepting

pytest.importorskip("uvicorn")

UVICORN = (sys.executable, "-m", "uvicorn", "fastapi_app:app", "--fd", "3", "--log-level", "error")
# The stdlib's serve_forever waits with poll(), not epoll: nothing for stop_accepting to change.
POLLING_SERVER = """
import http.server, os, socket
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"pid": %d}' % os.getpid()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.HTTPServer(("127.0.0.1", 0), Health, bind_and_activate=False)
server.socket = socket.socket(fileno=3)
server.serve_forever()
"""


@pytest.fixture
def held() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0), backlog=128)
    yield sock
    sock.close()


@pytest.fixture
def start(held: socket.socket) -> Iterator:
    started: list[subprocess.Popen[bytes]] = []

    def start(command: tuple[str, ...]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            with_socket(command, held.fileno(), "http"), pass_fds=(held.fileno(),), cwd=APPS
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _get(sock: socket.socket, path: str, timeout: float = 10) -> httpx.Response:
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
    return httpx.get(url, timeout=timeout, trust_env=False)


def _answers(sock: socket.socket) -> int | None:
    try:
        return _get(sock, "/health", timeout=1).json()["pid"]
    except httpx.HTTPError:
        return None


def test_a_quiesced_uvicorn_answers_what_it_took_and_takes_nothing_more(
    held: socket.socket, start
) -> None:
    old = start(UVICORN)
    assert poll(lambda: _answers(held), timeout=30) == old.pid
    in_flight: list[httpx.Response] = []
    request = threading.Thread(target=lambda: in_flight.append(_get(held, "/work?ms=500")))
    request.start()
    time.sleep(0.2)  # taken by the old child, not answered yet

    done = asyncio.run(stop_accepting(old.pid, socket_inode(held), 2.0, time.monotonic))
    assert done.paused == 1, done
    assert done.problems == ()
    assert done.unread == 0
    # A newcomer now waits in the backlog: the old child no longer takes connections ...
    with pytest.raises(httpx.TimeoutException):
        _get(held, "/health", timeout=1.0)
    request.join(10)
    assert [r.json()["pid"] for r in in_flight] == [old.pid], "... but answers what it took"
    old.send_signal(signal.SIGTERM)
    # uvicorn ends a graceful shutdown by raising the signal it caught again.
    assert old.wait(10) in (0, -signal.SIGTERM), "and still stops on its stop signal"
    new = start(UVICORN)
    assert poll(lambda: _answers(held), timeout=30) == new.pid


def test_a_server_without_epoll_is_left_as_it_was(held: socket.socket, start) -> None:
    """A server waiting with poll() has no registration: nothing changes, nothing fails."""
    app = start((sys.executable, "-c", POLLING_SERVER))
    assert poll(lambda: _answers(held), timeout=10) == app.pid
    done = asyncio.run(stop_accepting(app.pid, socket_inode(held), 1.0, time.monotonic))
    assert (done.paused, done.unread, done.problems) == (0, 0, ())
    assert _answers(held) == app.pid


def test_a_refused_pidfd_getfd_is_said_and_changes_nothing(
    held: socket.socket, start, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the call (an old kernel, a seccomp filter): a problem named, the app as it was."""
    monkeypatch.setattr(quiesce, "_PIDFD_GETFD", 0xFFFF)  # no such system call: ENOSYS
    app = start(UVICORN)
    assert poll(lambda: _answers(held), timeout=30) == app.pid
    done = asyncio.run(stop_accepting(app.pid, socket_inode(held), 1.0, time.monotonic))
    assert (done.paused, done.unread) == (0, 0)
    assert done.problems == (f"cannot reach the socket in {app.pid}: Function not implemented",), (
        done.problems
    )
    assert _answers(held) == app.pid
