"""What a probe puts on the wire and how it reads what comes back, against raw loopback servers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import MappingProxyType

import pytest

from tests.integration.test_probe import (
    MARGIN,
    accept_until_stopped,
    free_loopback_port,
    health,
    run_probes,
)


@dataclass
class RawServer:
    """Answers every connection with the same bytes, sent in `pieces`, and keeps each request."""

    pieces: list[bytes]
    requests: list[bytes] = field(default_factory=list)
    url: str = ""


def _answer(server: RawServer, conn: socket.socket) -> None:
    with conn:
        conn.settimeout(2.0)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                break
            request += chunk
        server.requests.append(request)
        for piece in server.pieces:
            conn.sendall(piece)
            time.sleep(0.01)  # each piece its own read on the probe's side


@pytest.fixture
def raw_server(request: pytest.FixtureRequest) -> Iterator[RawServer]:
    server = RawServer(pieces=list(request.param))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    server.url = f"http://127.0.0.1:{listener.getsockname()[1]}/health"
    stop = threading.Event()
    handle = functools.partial(_answer, server)
    thread = threading.Thread(
        target=accept_until_stopped, args=(listener, stop, handle), daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=2.0)
        listener.close()


def _headers(request: bytes) -> dict[str, str]:
    lines = request.decode("latin-1").split("\r\n")[1:]
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}


COOKIE_ANSWER = b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc\r\nContent-Length: 2\r\n\r\nok"


@pytest.mark.parametrize("raw_server", [[COOKIE_ANSWER]], indirect=True)
def test_a_probe_keeps_no_cookie_from_an_earlier_answer(raw_server: RawServer) -> None:
    """Each probe asks as a newcomer would: a cookie the app set on one answer is not sent
    back on the next, or a health check could pass only thanks to an old session."""
    results = run_probes(health(raw_server.url), count=2)
    assert [result.ok for result in results] == [True, True]
    assert [("cookie" in _headers(request)) for request in raw_server.requests] == [False, False]


@pytest.mark.parametrize("raw_server", [[COOKIE_ANSWER]], indirect=True)
def test_a_probe_asks_for_its_connection_to_be_closed(raw_server: RawServer) -> None:
    """A probe never reuses its connection, and says so: the app may close its side at once."""
    [result] = run_probes(health(raw_server.url))
    assert result.ok
    [request] = raw_server.requests
    assert _headers(request)["connection"] == "close"
    assert request.startswith(b"GET /health HTTP/1.1\r\n")


CHUNKED = [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n",
    b'9\r\n{"status"\r\n',
    b'7\r\n: "ok"}\r\n',
    b"0\r\n\r\n",
]


@pytest.mark.parametrize("raw_server", [CHUNKED], indirect=True)
def test_a_chunked_body_arriving_in_pieces_is_judged_whole(raw_server: RawServer) -> None:
    config = dataclasses.replace(health(raw_server.url), expect_body={"status": "ok"})
    [result] = run_probes(config)
    assert (result.ok, result.status, result.error) == (True, 200, None)


EARLY_HINTS = [
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
]


@pytest.mark.parametrize("raw_server", [EARLY_HINTS], indirect=True)
def test_an_informational_answer_before_the_real_one_is_passed_over(raw_server: RawServer) -> None:
    [result] = run_probes(health(raw_server.url))
    assert (result.ok, result.status) == (True, 200)


@pytest.mark.parametrize("raw_server", [[b"SSH-2.0-OpenSSH_9.2\r\n\r\n"]], indirect=True)
def test_an_answer_that_is_not_http_is_a_protocol_error(raw_server: RawServer) -> None:
    """Another service on the app's port: the probe fails, saying the answer was not HTTP."""
    [result] = run_probes(health(raw_server.url))
    assert result.ok is False
    assert result.status is None
    assert result.error is not None
    assert result.error.startswith("RemoteProtocolError: ")


@pytest.mark.parametrize(
    "raw_server", [[b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok"]], indirect=True
)
def test_a_body_cut_short_is_a_protocol_error(raw_server: RawServer) -> None:
    """The app died mid-answer: fewer bytes than it promised is no healthy answer."""
    [result] = run_probes(health(raw_server.url))
    assert result.ok is False
    assert result.error is not None
    assert result.error.startswith("RemoteProtocolError: ")


def test_a_host_name_whose_every_address_refuses_reads_connection_refused() -> None:
    """`localhost` may name ::1 and 127.0.0.1; with nothing listening on either, the probe
    says "connection refused", as it does for one address."""
    port = free_loopback_port()
    [result] = run_probes(health(f"http://localhost:{port}/health", timeout=2.0))
    assert result.error == "connection refused"


SWITCHED = [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"]


@pytest.mark.parametrize("raw_server", [SWITCHED], indirect=True)
def test_a_protocol_switch_is_an_unexpected_status_within_the_deadline(
    raw_server: RawServer,
) -> None:
    """Headers from the config may propose an upgrade; a 101 must end the probe, never leave
    the watchdog's loop turning on a parser that has stopped (as it once did, for ever)."""
    headers = MappingProxyType({"Connection": "Upgrade", "Upgrade": "h2c"})
    config = dataclasses.replace(health(raw_server.url, timeout=0.5), headers=headers)
    started = time.monotonic()
    [result] = run_probes(config)
    assert (result.ok, result.status, result.error) == (False, 101, "unexpected status 101")
    assert time.monotonic() - started < MARGIN


BIG_HEAD = (
    [b"HTTP/1.1 200 OK\r\nX-Big: "] + [b"x" * 2048] * 10 + [b"\r\nContent-Length: 2\r\n\r\nok"]
)


@pytest.mark.parametrize("raw_server", [BIG_HEAD], indirect=True)
def test_a_head_of_20_kb_arriving_in_pieces_is_read(raw_server: RawServer) -> None:
    """Up to 100 KiB of headers, as httpx's own transport allows, however the bytes arrive."""
    [result] = run_probes(health(raw_server.url))
    assert (result.ok, result.status, result.error) == (True, 200, None)


@pytest.mark.parametrize("raw_server", [[]], indirect=True)
def test_a_server_that_reads_and_hangs_up_is_told_in_plain_words(raw_server: RawServer) -> None:
    [result] = run_probes(health(raw_server.url))
    assert result.error == "RemoteProtocolError: Server disconnected without sending a response."


REDIRECT_AWAY = [
    b"HTTP/1.1 302 Found\r\nLocation: mailto:ops@example.com\r\nContent-Length: 0\r\n\r\n"
]


@pytest.mark.parametrize("raw_server", [REDIRECT_AWAY], indirect=True)
def test_a_redirect_to_a_non_http_url_is_named(raw_server: RawServer) -> None:
    [result] = run_probes(health(raw_server.url))
    assert result.error == (
        'redirected to "mailto:ops@example.com", not an http or https URL with a host'
    )


def test_an_address_that_never_accepts_does_not_stand_in_front_of_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name with two addresses, the first dropping connections (its backlog full), the
    second serving: the probe reaches the second within the deadline, as happy eyeballs
    would, instead of spending the whole deadline on the first."""
    server = RawServer(pieces=[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    serving = socket.socket()
    serving.bind(("127.0.0.1", 0))
    serving.listen(8)
    serving.settimeout(0.1)
    port = serving.getsockname()[1]
    deaf = socket.socket()
    deaf.bind(("127.0.0.2", port))
    deaf.listen(0)
    fillers = [socket.socket() for _ in range(4)]  # fill its backlog: later SYNs are dropped
    for filler in fillers:
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.2", port))
    stop = threading.Event()
    thread = threading.Thread(
        target=accept_until_stopped,
        args=(serving, stop, functools.partial(_answer, server)),
        daemon=True,
    )
    thread.start()

    async def two_addresses(
        _loop: object, host: str, port: int, *_: object, **__: object
    ) -> list[tuple[object, ...]]:
        assert host == "two.test"
        stream = (socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
        return [
            (socket.AF_INET, *stream, ("127.0.0.2", port)),
            (socket.AF_INET, *stream, ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "getaddrinfo", two_addresses)
    try:
        [result] = run_probes(health(f"http://two.test:{port}/health", timeout=2.0))
    finally:
        stop.set()
        thread.join(timeout=2.0)
        for sock in (serving, deaf, *fillers):
            sock.close()
    assert (result.ok, result.status, result.error) == (True, 200, None)
