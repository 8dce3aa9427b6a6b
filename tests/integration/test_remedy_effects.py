"""The remedies' effects against real loopback servers and a real child: a POST that
follows no redirect and never raises, a signal that reaches the live child alone."""

from __future__ import annotations

import asyncio
import os
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from watchdog import __version__
from watchdog.config import parse
from watchdog.core.commands import SignalApp
from watchdog.process.child import Child, spawn
from watchdog.runtime.remedies import GONE, post, signal_app

TIMEOUT = 0.3
MARGIN = 1.0  # slack for a loaded machine on every "by the deadline"


def posted(url: str, unix_socket: str | None = None) -> tuple[str | None, float]:
    started = time.monotonic()
    error = asyncio.run(post(url, TIMEOUT, unix_socket))
    return error, time.monotonic() - started


def test_a_2xx_answer_is_done_and_the_post_has_no_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/admin/cleanup",
        method="POST",
        query_string="deep=1",
        headers={"User-Agent": f"watchdog/{__version__}"},
    ).respond_with_data("", status=204)
    assert posted(httpserver.url_for("/admin/cleanup?deep=1"))[0] is None
    [(request, _)] = httpserver.log
    assert request.get_data() == b""


@pytest.mark.parametrize(("status", "error"), [(404, "answered 404"), (500, "answered 500")])
def test_another_answer_is_a_failure_naming_it(
    httpserver: HTTPServer, status: int, error: str
) -> None:
    httpserver.expect_request("/admin/cleanup", method="POST").respond_with_data("", status)
    assert posted(httpserver.url_for("/admin/cleanup"))[0] == error


def test_a_redirect_is_not_followed(httpserver: HTTPServer) -> None:
    elsewhere = "http://127.0.0.1:9/cleanup"  # the discard port: never reached
    httpserver.expect_request("/admin/cleanup").respond_with_data(
        "", status=307, headers={"Location": elsewhere}
    )
    error, _ = posted(httpserver.url_for("/admin/cleanup"))
    assert error == "answered 307; a remedy follows no redirect"
    assert len(httpserver.log) == 1


def test_a_proxy_in_the_environment_is_not_used(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    httpserver.expect_request("/admin/cleanup", method="POST").respond_with_data("ok")
    assert posted(httpserver.url_for("/admin/cleanup"))[0] is None


def test_a_refused_connection_is_a_failure_not_a_raise() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        error, elapsed = posted(f"http://127.0.0.1:{port}/admin/cleanup")
    assert error is not None
    assert error.startswith("ConnectError: ")
    assert elapsed < TIMEOUT + MARGIN


def test_no_answer_by_the_timeout_is_a_failure_by_then() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # the kernel takes the connection; nobody ever answers
        port = listener.getsockname()[1]
        error, elapsed = posted(f"http://127.0.0.1:{port}/admin/cleanup")
    assert error == "no answer within 300ms"
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + MARGIN


def test_through_a_unix_socket_the_post_reaches_the_app_there(tmp_path: Path) -> None:
    """With app.listen on a unix socket, the URL names the Host only; the socket is the app."""
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append((self.path, self.headers["Host"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    path = str(tmp_path / "api.sock")
    with Server(path, Handler) as server:
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        try:
            assert posted("http://api.internal/admin/cleanup", unix_socket=path)[0] is None
        finally:
            server.shutdown()
    assert seen == [("/admin/cleanup", "api.internal")]


# -- the signal ------------------------------------------------------------------------

CATCHER = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGUSR1, lambda *_: print('got USR1', flush=True))\n"
    "print('ready', flush=True)\n"
    "time.sleep(10)\n"
)


def test_the_signal_reaches_the_live_child_and_a_gone_one_is_said_so() -> None:
    app = parse({"app": {"command": [sys.executable, "-c", CATCHER]}}, Path.cwd()).app

    async def main() -> None:
        lines: list[str] = []
        child: Child = spawn(app, 1, lambda _stream, new: lines.extend(new), 0.0)
        try:
            async with asyncio.timeout(5):
                while "ready" not in lines:
                    await asyncio.sleep(0.01)
                done = signal_app({1: child}, SignalApp(1, 7, "USR1"), 1.0)
                assert (done.generation, done.ticket, done.ok, done.error) == (1, 7, True, None)
                while "got USR1" not in lines:
                    await asyncio.sleep(0.01)
            # Another generation is none of this child's business.
            other = signal_app({1: child}, SignalApp(2, 8, "USR1"), 1.0)
            assert (other.ok, other.error) == (False, GONE)
        finally:
            child.process.kill()
            _, status = os.waitpid(child.pid, 0)
            child.record_exit(status, 2.0)  # reaped, as the runtime's reaper does
        # Reaped, its pid may be anyone's now: it gets no signal.
        late = signal_app({1: child}, SignalApp(1, 9, "USR1"), 3.0)
        assert (late.ok, late.error, late.at) == (False, GONE, 3.0)
        for pump in child.pumps:
            pump.close()

    asyncio.run(main())
