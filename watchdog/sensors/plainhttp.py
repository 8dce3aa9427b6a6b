"""An httpx transport for plain http over one fresh connection per request, on the loop's sockets.

A loopback GET through httpx's client and default transport (httpcore on anyio, with a
connection pool) cost 2.36 ms of CPU here; a probe through this transport, on the event
loop's own socket calls and parsed with h11 (httpcore's own parser), 0.83 ms
(bench/probe_cost.py). Requests, responses, headers and body decoding stay httpx's; only the
bytes move differently. Each request gets its own connection, closed with its response: a
kept-alive connection would hide an app that no longer accepts new ones. https goes through
httpx's own transport.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ParamSpec, TypeVar

import h11
import httpx

READ_SIZE = 64 * 1024
HEAD_LIMIT = 100 * 1024  # bytes of an answer's head, at most: httpcore's bound, not h11's 16 KiB
ATTEMPT_LIMIT = 0.25  # seconds an address may take to accept before the next one is tried

T = TypeVar("T")
P = ParamSpec("P")


class PlainHTTPTransport(httpx.AsyncBaseTransport):
    """http:// over TCP, or over the Unix socket `uds` when the app listens there."""

    def __init__(self, uds: str | None = None) -> None:
        self._uds = uds
        self._open: set[socket.socket] = set()  # closed by aclose if still open

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"only http here, not {url.scheme!r}", request=request)
        timeouts = request.extensions.get("timeout", {})
        loop = asyncio.get_running_loop()
        sock = await _within(
            self._connect(loop, url),
            timeouts.get("connect"),
            httpx.ConnectTimeout,
            httpx.ConnectError,
            request,
        )
        self._open.add(sock)
        try:
            connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_LIMIT)
            data = _parsed(_request_bytes, connection, request)
            await _within(
                loop.sock_sendall(sock, data),
                timeouts.get("write"),
                httpx.WriteTimeout,
                httpx.WriteError,
                request,
            )
            exchange = _Exchange(
                connection, loop, sock, request, timeout=timeouts.get("read"), close=self._close
            )
            answer = await exchange.head()
        except BaseException:
            self._close(sock)
            raise
        return httpx.Response(
            answer.status_code,
            headers=answer.headers.raw_items(),
            stream=exchange,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
            request=request,
        )

    async def _connect(self, loop: asyncio.AbstractEventLoop, url: httpx.URL) -> socket.socket:
        """A connected socket: to the first address of the host that accepts, in the order
        the resolver gives them (an address is used as it is, without asking the resolver)."""
        if self._uds is not None:
            targets: list[tuple[int, object]] = [(socket.AF_UNIX, self._uds)]
        else:
            targets = await _addresses(loop, url.host, url.port or 80)
        failures: list[OSError] = []
        for index, (family, address) in enumerate(targets):
            # Each address but the last gets ATTEMPT_LIMIT (as happy eyeballs staggers them):
            # one that drops connections must not use up the whole deadline.
            limit = ATTEMPT_LIMIT if index < len(targets) - 1 else None
            sock: socket.socket | None = None
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setblocking(False)
                async with asyncio.timeout(limit):
                    await loop.sock_connect(sock, address)
            except BaseException as exc:
                if sock is not None:
                    sock.close()
                if not isinstance(exc, OSError) or len(targets) == 1:
                    raise
                if isinstance(exc, TimeoutError):
                    exc = TimeoutError(f"{address} did not accept within {ATTEMPT_LIMIT:g} s")
                failures.append(exc)
                continue
            return sock
        if failures and all(isinstance(exc, ConnectionRefusedError) for exc in failures):
            raise failures[0]  # every address refused: the app is not listening
        raise OSError("; ".join(str(exc) for exc in failures) or f"no address for {url.host}")

    def _close(self, sock: socket.socket) -> None:
        # At once: a probe that returned holds no socket, even one cut off by its deadline
        # (asyncio has already stopped watching it: its wait's callback runs before ours).
        self._open.discard(sock)
        sock.close()

    async def aclose(self) -> None:
        for sock in list(self._open):
            self._close(sock)


async def _addresses(
    loop: asyncio.AbstractEventLoop, host: str, port: int
) -> list[tuple[int, object]]:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [(family, address) for family, _, _, _, address in infos]
    family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
    return [(family, (host, port))]


class _Exchange(httpx.AsyncByteStream):
    """The answer to one request: its head, then its body as it arrives."""

    def __init__(
        self,
        connection: h11.Connection,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        request: httpx.Request,
        *,
        timeout: float | None,
        close: Callable[[socket.socket], None],
    ) -> None:
        self._connection = connection
        self._loop = loop
        self._sock = sock
        self._request = request
        self._read_timeout = timeout
        self._close = close

    async def head(self) -> h11.Response | h11.InformationalResponse:
        informational: h11.InformationalResponse | None = None
        while True:
            event = await self._next()
            if isinstance(event, h11.Response):
                return event
            if isinstance(event, h11.InformationalResponse):
                informational = event  # 100 Continue and the like come before the answer
            elif event is h11.PAUSED and informational is not None:
                return informational  # 101: the server switched protocols; that is its answer
            else:
                raise httpx.RemoteProtocolError(f"no answer: h11 gave {event!r}")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            event = await self._next()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)) or (
                event is h11.PAUSED
            ):
                return  # PAUSED: a protocol switched; no HTTP body follows
            else:
                raise httpx.RemoteProtocolError(f"no body: h11 gave {event!r}")

    async def _next(self) -> object:
        while True:
            event = _parsed(self._connection.next_event)
            if event is not h11.NEED_DATA:
                return event
            data = await _within(
                self._loop.sock_recv(self._sock, READ_SIZE),
                self._read_timeout,
                httpx.ReadTimeout,
                httpx.ReadError,
                self._request,
            )
            if not data and self._connection.their_state is h11.SEND_RESPONSE:
                # As httpcore says it: h11's own words name its states, not what happened.
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            _parsed(self._connection.receive_data, data)

    async def aclose(self) -> None:
        self._close(self._sock)


def _request_bytes(connection: h11.Connection, request: httpx.Request) -> bytes:
    """The request's head and body as h11 frames them (a probe's body is empty)."""
    if not isinstance(request.stream, httpx.ByteStream):
        raise httpx.LocalProtocolError("only a body given whole is sent here", request=request)
    head = h11.Request(
        method=request.method, target=request.url.raw_path, headers=request.headers.raw
    )
    frames = [connection.send(head)]
    frames += [connection.send(h11.Data(data=chunk)) for chunk in request.stream if chunk]
    frames.append(connection.send(h11.EndOfMessage()))
    return b"".join(frame for frame in frames if frame)


def _parsed(step: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """One step of h11, its protocol errors as httpx's."""
    try:
        return step(*args, **kwargs)
    except h11.RemoteProtocolError as exc:
        raise httpx.RemoteProtocolError(str(exc)) from exc
    except h11.LocalProtocolError as exc:
        raise httpx.LocalProtocolError(str(exc)) from exc


async def _within(
    step: Awaitable[T],
    seconds: float | None,
    timeout_error: type[httpx.TimeoutException],
    socket_error: type[httpx.TransportError],
    request: httpx.Request,
) -> T:
    """Awaits one socket step with its own deadline, its errors as httpx's."""
    try:
        async with asyncio.timeout(seconds):
            return await step
    except TimeoutError as exc:  # before OSError, whose subclass it is
        raise timeout_error(f"no progress within {seconds:g} s", request=request) from exc
    except OSError as exc:
        raise socket_error(str(exc) or type(exc).__name__, request=request) from exc
