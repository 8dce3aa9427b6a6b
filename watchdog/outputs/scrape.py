"""The scrape endpoint: GET /metrics over plain HTTP/1.1, for Prometheus, and nothing else.

Written here rather than with an HTTP library: a handful of lines, a hard deadline on
every connection, and no way for a flood of idle clients to blind monitoring.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

from watchdog.config.operations import ListenAddress

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
READ_TIMEOUT = 5.0  # the longest any connection is held, answer included
# A scraper sends its request as soon as it connects; one that has sent nothing after
# this is idle, and its connection goes back for a scraper's use.
HEAD_TIMEOUT = 1.0
MAX_HEAD = 8192  # request line and headers; a scrape needs a few hundred bytes
# A scraper needs one connection; a flood of idle ones must not use up our file
# descriptors (the probes and the app's pipes need them). At the limit, the connection
# that has waited longest for its request is hung up on to make room for the newcomer:
# a scrape is served however many idle connections are open, and no more are held.
MAX_CONNECTIONS = 16
STATUS_TEXT = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


class MetricsError(Exception):
    """The metrics output cannot start, e.g. its listen address cannot be bound."""


class ScrapeEndpoint:
    def __init__(self, render: Callable[[], str]) -> None:
        self._render = render
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[object], asyncio.StreamWriter] = {}
        self._waiting: list[asyncio.Task[object]] = []  # no request read yet, oldest first

    async def start(self, listen: ListenAddress) -> None:
        """Listen on metrics.listen, if set; MetricsError if it cannot be bound."""
        if self._server is not None:
            return
        try:
            self._server = await asyncio.start_server(
                self._serve, listen.host, listen.port, limit=MAX_HEAD
            )
        except OSError as exc:
            # asyncio wraps the errno in a long sentence; the errno's own text reads better.
            why = os.strerror(exc.errno) if exc.errno else str(exc)
            raise MetricsError(f"metrics.listen: cannot listen on {listen}: {why}") from exc

    async def aclose(self) -> None:
        """Stop listening and hang up on every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Python 3.11 leaves open connections be and logs a cancelled handler as an error:
        # hang up on each client instead, and its handler ends on the EOF.
        for writer in self._connections.values():
            writer.close()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=READ_TIMEOUT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), READ_TIMEOUT)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # each connection is served by a task of its own
        if len(self._connections) >= MAX_CONNECTIONS:
            if not self._waiting:  # every one held is being answered: they end soon
                writer.close()
                return
            self._connections[self._waiting.pop(0)].close()  # its read ends on the hang-up
        self._connections[task] = writer
        self._waiting.append(task)
        try:
            async with asyncio.timeout(READ_TIMEOUT):  # reading the head and writing the answer
                async with asyncio.timeout(HEAD_TIMEOUT):
                    head = await reader.readuntil(b"\r\n\r\n")  # LimitOverrunError: too long
                self._waiting.remove(task)
                writer.write(self._respond(head.split(b"\r\n", 1)[0]))
                await writer.drain()
        except Exception:  # noqa: BLE001, S110 - a scraper's garbage or hang-up is its problem
            pass
        finally:
            writer.close()
            del self._connections[task]
            if task in self._waiting:
                self._waiting.remove(task)

    def _respond(self, request_line: bytes) -> bytes:
        method, target, version = [*request_line.decode("latin-1").split(), "", "", ""][:3]
        status, body = 200, b""
        if not version.startswith("HTTP/") or len(request_line.split()) != 3:
            status = 400
        elif target.partition("?")[0] != "/metrics":
            status = 404
        elif method not in ("GET", "HEAD"):
            status = 405
        else:
            body = self._render().encode("utf-8")
        if status != 200:
            body = f"{status} {STATUS_TEXT[status]}\n".encode()
        kind = CONTENT_TYPE if status == 200 else "text/plain; charset=utf-8"
        head = f"HTTP/1.1 {status} {STATUS_TEXT[status]}\r\nContent-Type: {kind}\r\n"
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        head += "Allow: GET, HEAD\r\n\r\n" if status == 405 else "\r\n"
        return head.encode("latin-1") + (b"" if method == "HEAD" else body)
