"""An httpx transport for plain http over one fresh connection per request, on asyncio streams.

httpx's default transport (httpcore on anyio, with a connection pool) costs about 3 ms of CPU
per request here, four times what the same GET costs on asyncio streams with h11, the parser
httpcore itself uses. A probe every second spends most of the watchdog's CPU there. Requests
and responses stay httpx's (headers, redirects, decoding); only the bytes move differently.
Each request gets its own connection, closed with its response: a kept-alive connection would
hide an app that no longer accepts new ones. https goes through httpx's own transport.
"""

from __future__ import annotations

import asyncio
import errno
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ParamSpec, TypeVar

import h11
import httpx

READ_SIZE = 64 * 1024
MULTIPLE = "Multiple exceptions: "  # how asyncio joins the errors of several addresses


T = TypeVar("T")
P = ParamSpec("P")


class PlainHTTPTransport(httpx.AsyncBaseTransport):
    """http:// over TCP, or over the Unix socket `uds` when the app listens there."""

    def __init__(self, uds: str | None = None) -> None:
        self._uds = uds
        self._open: set[asyncio.StreamWriter] = set()  # closed by aclose if still open

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"only http here, not {url.scheme!r}", request=request)
        timeouts = request.extensions.get("timeout", {})
        connecting = (
            asyncio.open_unix_connection(self._uds, limit=READ_SIZE)
            if self._uds is not None
            else asyncio.open_connection(url.host, url.port or 80, limit=READ_SIZE)
        )
        reader, writer = await _within(
            connecting, timeouts.get("connect"), httpx.ConnectTimeout, httpx.ConnectError, request
        )
        self._open.add(writer)
        try:
            connection = h11.Connection(h11.CLIENT)
            _parsed(_write_request, connection, writer, request)
            await _within(
                writer.drain(), timeouts.get("write"), httpx.WriteTimeout, httpx.WriteError, request
            )
            exchange = _Exchange(
                connection, reader, writer, request, timeout=timeouts.get("read"), close=self._close
            )
            answer = await exchange.head()
        except BaseException:
            await self._close(writer)
            raise
        return httpx.Response(
            answer.status_code,
            headers=answer.headers.raw_items(),
            stream=exchange,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
            request=request,
        )

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        """Closes the connection and waits the loop's turn that closes its socket: a probe
        that returned holds no socket, even one cut off by its deadline."""
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass  # the peer reset it: closed all the same
        finally:
            self._open.discard(writer)

    async def aclose(self) -> None:
        for writer in list(self._open):
            await self._close(writer)
        # A connection cut off while asyncio was still making it never reached us; asyncio
        # closes it itself, at the loop's next turn.
        await asyncio.sleep(0)


class _Exchange(httpx.AsyncByteStream):
    """The answer to one request: its head, then its body as it arrives."""

    def __init__(
        self,
        connection: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: httpx.Request,
        *,
        timeout: float | None,
        close: Callable[[asyncio.StreamWriter], Awaitable[None]],
    ) -> None:
        self._connection = connection
        self._reader = reader
        self._writer = writer
        self._request = request
        self._read_timeout = timeout
        self._close = close

    async def head(self) -> h11.Response:
        while True:
            event = await self._next()
            if isinstance(event, h11.Response):
                return event
            # An InformationalResponse (100 Continue and the like) comes before the answer.

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            event = await self._next()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                return

    async def _next(self) -> object:
        request = self._request
        while True:
            event = _parsed(self._connection.next_event)
            if event is not h11.NEED_DATA:
                return event
            data = await _within(
                self._reader.read(READ_SIZE),
                self._read_timeout,
                httpx.ReadTimeout,
                httpx.ReadError,
                request,
            )
            _parsed(self._connection.receive_data, data)

    async def aclose(self) -> None:
        await self._close(self._writer)


def _write_request(
    connection: h11.Connection, writer: asyncio.StreamWriter, request: httpx.Request
) -> None:
    """The request's head and body into the writer's buffer (a probe's body is empty)."""
    head = h11.Request(
        method=request.method, target=request.url.raw_path, headers=request.headers.raw
    )
    writer.write(connection.send(head) or b"")
    if not isinstance(request.stream, httpx.ByteStream):
        raise httpx.LocalProtocolError("only a body given whole is sent here", request=request)
    for chunk in request.stream:
        if chunk:
            writer.write(connection.send(h11.Data(data=chunk)) or b"")
    writer.write(connection.send(h11.EndOfMessage()) or b"")


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
        raise socket_error(str(exc) or type(exc).__name__, request=request) from _refusal(exc)


def _refusal(exc: OSError) -> OSError:
    """Python 3.11 reports every address of a name refusing as one OSError of their texts;
    said as one refusal, a stopped app reads "connection refused" whatever its host name."""
    text = str(exc)
    if exc.errno is None and text.startswith(MULTIPLE):
        attempts = re.split(r", (?=\[Errno )", text.removeprefix(MULTIPLE))
        if all(attempt.startswith(f"[Errno {errno.ECONNREFUSED}]") for attempt in attempts):
            return ConnectionRefusedError(errno.ECONNREFUSED, text)
    return exc
