"""The health probe against real loopback servers: answers, failures, deadlines, never a raise."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psutil
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from watchdog import __version__
from watchdog.config import HealthConfig
from watchdog.core.observations import ProbeResult
from watchdog.sensors.probe import MAX_BODY_BYTES, MAX_REDIRECTS, Prober

TIMEOUT = 0.3
# Slack for a loaded CI machine; every "fast" or "by the deadline" claim is bounded by it.
MARGIN = 1.0
# The longest any server-side stall may last, so a failed test never hangs the suite.
STALL_CAP = 3.0


def health(
    url: str, timeout: float = TIMEOUT, expect_status: tuple[int, ...] = (200,)
) -> HealthConfig:
    return HealthConfig(
        url=url,
        interval=1.0,
        timeout=timeout,
        max_failures=3,
        startup_timeout=5.0,
        startup_interval=0.1,
        expect_status=expect_status,
    )


def run_probes(config: HealthConfig, count: int = 1) -> list[ProbeResult]:
    async def main() -> list[ProbeResult]:
        prober = Prober(config)
        try:
            return [await prober.probe() for _ in range(count)]
        finally:
            await prober.aclose()

    return asyncio.run(main())


def run_probe(config: HealthConfig) -> tuple[ProbeResult, float]:
    """One probe and the wall time it took, measured on the monotonic clock."""
    started = time.monotonic()
    [result] = run_probes(config)
    return result, time.monotonic() - started


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event that ends every stalled server handler when the test is over."""
    event = threading.Event()
    yield event
    event.set()


def accept_until_stopped(
    listener: socket.socket, stop: threading.Event, handle: Callable[[socket.socket], None]
) -> None:
    """Hands each connection to `handle` until `stop`, for 10 s at most (a listener that
    times out its accepts lets the loop look at `stop`)."""
    deadline = time.monotonic() + 10.0
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        handle(conn)


@pytest.fixture
def hangup_server() -> Iterator[str]:
    """A raw loopback server that accepts connections and closes them without a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    stop = threading.Event()
    thread = threading.Thread(
        target=accept_until_stopped, args=(listener, stop, socket.socket.close), daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/health"
    finally:
        stop.set()
        thread.join(timeout=2.0)
        listener.close()


def test_200_is_ok_with_status_latency_and_finish_time(httpserver: HTTPServer) -> None:
    """A 200 answer is healthy, with its status, a small latency and a monotonic finish time."""
    httpserver.expect_request("/health").respond_with_data("ok")
    started = time.monotonic()
    [result] = run_probes(health(httpserver.url_for("/health")))
    ended = time.monotonic()

    assert result.ok is True
    assert result.status == 200
    assert result.error is None
    assert 0 < result.latency < MARGIN
    assert started < result.at <= ended
    assert result.at - result.latency >= started


def test_probe_identifies_itself_with_user_agent(httpserver: HTTPServer) -> None:
    """The probe sends a watchdog User-Agent, so the app's logs can tell probes apart."""
    httpserver.expect_request(
        "/health", headers={"User-Agent": f"watchdog/{__version__}"}
    ).respond_with_data("ok")

    [result] = run_probes(health(httpserver.url_for("/health")))

    assert result.ok is True


def test_500_is_a_failure_naming_the_status(httpserver: HTTPServer) -> None:
    """A 500 answer fails the probe with its status recorded and named in the error."""
    httpserver.expect_request("/health").respond_with_data("boom", status=500)

    [result] = run_probes(health(httpserver.url_for("/health")))

    assert result.ok is False
    assert result.status == 500
    assert result.error == "unexpected status 500"


def test_custom_expect_status_accepts_only_listed_codes(httpserver: HTTPServer) -> None:
    """With expect_status (204,) a 204 is healthy and a 200 is a failure."""
    httpserver.expect_request("/empty").respond_with_data("", status=204)
    httpserver.expect_request("/full").respond_with_data("ok", status=200)

    [empty] = run_probes(health(httpserver.url_for("/empty"), expect_status=(204,)))
    [full] = run_probes(health(httpserver.url_for("/full"), expect_status=(204,)))

    assert (empty.ok, empty.status, empty.error) == (True, 204, None)
    assert (full.ok, full.status, full.error) == (False, 200, "unexpected status 200")


def test_slow_answer_times_out_by_the_deadline(
    httpserver: HTTPServer, release: threading.Event
) -> None:
    """A server that answers later than the timeout fails the probe at about the timeout."""

    def stall(_request: Request) -> Response:
        release.wait(STALL_CAP)
        return Response("too late")

    httpserver.expect_request("/health").respond_with_handler(stall)

    result, elapsed = run_probe(health(httpserver.url_for("/health")))

    assert result.ok is False
    assert result.status is None
    assert result.error is not None
    assert result.error == "no answer within 300ms"
    assert result.timed_out is True
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + MARGIN


def test_slow_drip_body_still_ends_by_the_overall_timeout(
    httpserver: HTTPServer, release: threading.Event
) -> None:
    """Headers at once, then a body dripping inside the read timeout, still end by the timeout."""

    def drip(_request: Request) -> Response:
        def body() -> Iterator[bytes]:
            deadline = time.monotonic() + STALL_CAP
            yield b"."
            # Each byte arrives well within the per-read timeout, so only a total deadline helps.
            while not release.wait(TIMEOUT / 6) and time.monotonic() < deadline:
                yield b"."

        return Response(body(), status=200, mimetype="text/plain")

    httpserver.expect_request("/health").respond_with_handler(drip)

    result, elapsed = run_probe(health(httpserver.url_for("/health")))

    assert result.ok is False
    assert result.error == "no answer within 300ms"
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + MARGIN


def test_prober_recovers_after_a_timeout() -> None:
    """After a probe is cut off by its deadline, the same Prober's next probe succeeds."""
    release = threading.Event()
    calls: list[None] = []

    def first_stalls(_request: Request) -> Response:
        calls.append(None)
        if len(calls) == 1:
            release.wait(STALL_CAP)
        return Response("ok")

    # Threaded, so the stalled first request does not hold up the second one.
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.expect_request("/health").respond_with_handler(first_stalls)
    server.start()
    try:
        timed_out, healthy = run_probes(health(server.url_for("/health")), 2)
    finally:
        release.set()
        server.clear()
        server.stop()

    assert timed_out.ok is False
    assert timed_out.error == "no answer within 300ms"
    assert (healthy.ok, healthy.status, healthy.error, healthy.timed_out) == (
        True,
        200,
        None,
        False,
    )
    assert len(calls) == 2


def test_connection_refused_fails_fast_without_raising() -> None:
    """A loopback port with nothing listening fails the probe quickly with an error string."""
    port = free_loopback_port()

    result, elapsed = run_probe(health(f"http://127.0.0.1:{port}/health", timeout=2.0))

    assert result.ok is False
    assert result.status is None
    assert isinstance(result.error, str)
    assert result.error
    assert elapsed < MARGIN


def test_connection_refused_is_named_connection_refused() -> None:
    """A refused connection is reported with the plain error 'connection refused'."""
    port = free_loopback_port()

    result, _ = run_probe(health(f"http://127.0.0.1:{port}/health", timeout=2.0))

    assert result.error == "connection refused"


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_is_followed_to_the_final_answer(httpserver: HTTPServer, code: int) -> None:
    """A redirect from /health to a 200 page is followed and counts as healthy."""
    httpserver.expect_request("/health").respond_with_data(
        "", status=code, headers={"Location": "/ok"}
    )
    httpserver.expect_request("/ok").respond_with_data("ok")

    [result] = run_probes(health(httpserver.url_for("/health")))

    assert (result.ok, result.status, result.error) == (True, 200, None)


def test_redirect_to_another_origin_fails(httpserver: HTTPServer) -> None:
    """A redirect to another host or port is a failure; the probe never follows it there."""
    other_port = free_loopback_port()
    httpserver.expect_request("/health").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.1:{other_port}/health"}
    )

    result, elapsed = run_probe(health(httpserver.url_for("/health"), timeout=2.0))

    assert result.ok is False
    assert result.error == f"redirected to another origin: http://127.0.0.1:{other_port}"
    assert elapsed < MARGIN


def test_redirect_loop_fails_with_a_redirect_error(httpserver: HTTPServer) -> None:
    """A redirect loop fails the probe with an error about redirects instead of spinning."""
    httpserver.expect_request("/health").respond_with_data(
        "", status=302, headers={"Location": "/health"}
    )

    result, elapsed = run_probe(health(httpserver.url_for("/health"), timeout=2.0))

    assert result.ok is False
    assert result.error == f"more than {MAX_REDIRECTS} redirects"
    assert "redirects" in result.error
    assert elapsed < MARGIN


def test_huge_body_is_not_read_whole(httpserver: HTTPServer) -> None:
    """A 5 MB body does not stop a probe from being healthy and fast."""
    httpserver.expect_request("/health").respond_with_data(b"x" * (5 * 1024 * 1024))

    result, elapsed = run_probe(health(httpserver.url_for("/health"), timeout=2.0))

    assert (result.ok, result.status, result.error) == (True, 200, None)
    assert elapsed < MARGIN


def test_endless_body_is_cut_off_after_the_byte_limit(
    httpserver: HTTPServer, release: threading.Event
) -> None:
    """A body that never ends is healthy: the probe stops reading after its byte limit."""
    chunk = b"x" * MAX_BODY_BYTES

    def endless(_request: Request) -> Response:
        def body() -> Iterator[bytes]:
            deadline = time.monotonic() + STALL_CAP
            while not release.is_set() and time.monotonic() < deadline:
                yield chunk
                time.sleep(0.01)

        return Response(body(), status=200, mimetype="application/octet-stream")

    httpserver.expect_request("/health").respond_with_handler(endless)

    # Reading the whole body would take until STALL_CAP, far past this timeout.
    result, elapsed = run_probe(health(httpserver.url_for("/health"), timeout=1.0))

    assert (result.ok, result.status, result.error) == (True, 200, None)
    assert elapsed < 1.0


def test_unreachable_port_one_reports_without_raising() -> None:
    """A probe of 127.0.0.1:1 returns a failed result with an error string and raises nothing."""
    result, elapsed = run_probe(health("http://127.0.0.1:1/", timeout=2.0))

    assert result.ok is False
    assert result.status is None
    assert isinstance(result.error, str)
    assert result.error
    assert elapsed < MARGIN


def test_server_that_hangs_up_reports_without_raising(hangup_server: str) -> None:
    """A server that accepts and closes without answering fails the probe with an error string."""
    result, elapsed = run_probe(health(hangup_server, timeout=2.0))

    assert result.ok is False
    assert result.status is None
    assert isinstance(result.error, str)
    assert result.error
    assert elapsed < MARGIN


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/health", "http://"])
def test_malformed_url_reports_without_raising(url: str) -> None:
    """A URL the HTTP client cannot use fails the probe with an error string instead of raising."""
    [result] = run_probes(health(url))

    assert result.ok is False
    assert result.status is None
    assert isinstance(result.error, str)
    assert result.error


def test_proxy_environment_is_ignored(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proxy variables naming a dead loopback port do not stand between the probe and the app."""
    dead_proxy = "http://127.0.0.1:9"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    httpserver.expect_request("/health").respond_with_data("ok")
    url = httpserver.url_for("/health")

    # Control: a client that trusts the environment is indeed sent to the dead proxy.
    with (
        httpx.Client(trust_env=True, timeout=2.0) as client,
        pytest.raises(httpx.HTTPError),
    ):
        client.get(url)

    [result] = run_probes(health(url))

    assert (result.ok, result.status, result.error) == (True, 200, None)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the probes hang up early on purpose


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_probes_cut_off_mid_way_leave_no_connection_open() -> None:
    """A timeout can strike anywhere in a request (here a busy loop makes it strike all
    over); no connection may stay open after it, or the watchdog leaks a socket per hang."""
    server = _QuietServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    async def main() -> tuple[int, int]:
        # A timeout shorter than each busy spell: whatever the host's speed, most probes
        # overlap one and are cut off, at whatever point they had reached.
        prober = Prober(health(f"http://127.0.0.1:{port}/health", timeout=0.002))

        async def busy_loop() -> None:
            while True:
                time.sleep(0.003)  # the loop busy, as with a resource sample
                await asyncio.sleep(0.001)

        busy = asyncio.create_task(busy_loop())
        try:
            results = [await prober.probe() for _ in range(300)]
        finally:
            busy.cancel()
        still_open = [
            c for c in psutil.Process().net_connections("tcp") if c.raddr and c.raddr.port == port
        ]
        await prober.aclose()
        return sum(r.timed_out for r in results), len(still_open)

    try:
        timed_out, still_open = asyncio.run(main())
    finally:
        server.shutdown()
        server.server_close()
    assert timed_out > 100  # the scenario happened
    assert still_open == 0


LOGIN_PAGE = (
    "<!doctype html><html><head><title>Sign in</title></head><body>"
    '<form method="post" action="/login"><input name="user"><input type="password" name="pw">'
    "<button>Sign in</button></form></body></html>"
)
ERROR_PAGE = (
    "<!doctype html><html><head><title>Internal Server Error</title></head><body>"
    "<h1>500 Internal Server Error</h1><p>Traceback (most recent call last): ...</p>"
    "</body></html>"
)


@pytest.mark.parametrize("page", [LOGIN_PAGE, ERROR_PAGE], ids=["login", "error"])
def test_html_page_with_200_is_healthy(httpserver: HTTPServer, page: str) -> None:
    """A 200 carrying an HTML page, even one that reads like a login or an error, is healthy:
    the status decides, the body is never parsed."""
    httpserver.expect_request("/health").respond_with_data(
        page, status=200, content_type="text/html; charset=utf-8"
    )

    [result] = run_probes(health(httpserver.url_for("/health")))

    assert (result.ok, result.status, result.error) == (True, 200, None)


def test_html_error_page_with_500_is_still_a_failure(httpserver: HTTPServer) -> None:
    """The same HTML error page with a 500 fails: the status decides both ways."""
    httpserver.expect_request("/health").respond_with_data(
        ERROR_PAGE, status=500, content_type="text/html; charset=utf-8"
    )

    [result] = run_probes(health(httpserver.url_for("/health")))

    assert (result.ok, result.status, result.error) == (False, 500, "unexpected status 500")


BINARY = bytes(range(256)) + b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\x00" * 64


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain; charset=utf-8"},
        {"Content-Type": "application/json"},
        {"Content-Type": "application/octet-stream"},
        # Claims a compression it does not have: the probe reads raw bytes, never decodes.
        {"Content-Type": "text/plain", "Content-Encoding": "gzip"},
    ],
    ids=["utf-8-declared", "json-declared", "octet-stream", "false-gzip"],
)
def test_200_with_a_binary_body_is_healthy(httpserver: HTTPServer, headers: dict[str, str]) -> None:
    """A 200 whose body is not valid UTF-8 (or not what its headers claim) is healthy."""
    with pytest.raises(UnicodeDecodeError):
        BINARY.decode("utf-8")
    httpserver.expect_request("/health").respond_with_response(
        Response(BINARY, status=200, headers=headers)
    )

    [result] = run_probes(health(httpserver.url_for("/health")))

    assert (result.ok, result.status, result.error) == (True, 200, None)


def test_a_steady_probe_searches_for_no_module(httpserver: HTTPServer) -> None:
    """A failed import is searched for again on every try (tens of µs each): past the first
    probe, nothing a probe does may ask the import system to look for a module."""
    httpserver.expect_request("/health").respond_with_data("ok")
    searched: list[str] = []

    class Recorder:
        @staticmethod
        def find_spec(name: str, *_: object) -> None:
            searched.append(name)

    async def main() -> list[ProbeResult]:
        prober = Prober(health(httpserver.url_for("/health")))
        try:
            await prober.probe()  # lazy imports of the first request are allowed
            sys.meta_path.insert(0, Recorder)  # type: ignore[arg-type]
            try:
                return [await prober.probe() for _ in range(3)]
            finally:
                sys.meta_path.remove(Recorder)  # type: ignore[arg-type]
        finally:
            await prober.aclose()

    results = asyncio.run(main())
    assert all(result.ok for result in results)
    assert searched == []
