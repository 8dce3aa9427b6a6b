"""The health probe: one HTTP GET (or HEAD) with a hard deadline. It reports, never raises."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from watchdog import __version__
from watchdog.config import HealthConfig
from watchdog.config.reader import show
from watchdog.core.observations import ProbeResult
from watchdog.core.units import format_duration
from watchdog.outputs.redaction import redact, spelled_secrets
from watchdog.sensors.plainhttp import PlainHTTPTransport
from watchdog.sensors.tls import plain_http_context

MAX_BODY_BYTES = 64 * 1024
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NOT_USABLE = "not an http or https URL with a host"
BODY_SHOWN = 100  # characters of an unexpected body quoted in the probe's error


def _remember_missing(name: str) -> None:
    """httpcore tries `import sniffio` several times per request and goes on without it.
    Python does not remember a failed import: each try searches sys.path anew (about 40 µs
    here). A None in sys.modules makes the same ImportError come at once."""
    if name not in sys.modules and importlib.util.find_spec(name) is None:
        sys.modules[name] = None  # type: ignore[assignment]


_remember_missing("sniffio")


class Prober:
    """Probes one health URL; each probe opens a fresh connection and reads a bounded body.

    Requests go straight to an httpx transport, without a client: a probe keeps no cookies
    and follows redirects by hand (same origin only), so the client's cookie jar and
    redirect handling would only cost CPU on every probe.
    """

    def __init__(
        self,
        health: HealthConfig,
        clock: Callable[[], float] = time.monotonic,
        unix_socket: str | None = None,
    ) -> None:
        self._health = health
        self._clock = clock
        self._unix_socket = unix_socket  # the app listens there; the URL names the Host only
        self._url = httpx.URL(health.url)
        # Once: loading the CA bundle is dear, and only an https URL needs it.
        self._ssl = plain_http_context(health.url) or httpx.create_ssl_context()
        self._headers = httpx.Headers(
            {
                "User-Agent": f"watchdog/{__version__}",
                "Accept": "*/*",
                "Accept-Encoding": "gzip, deflate",
                # Each probe is a new connection (a kept-alive one would hide an app that no
                # longer accepts new ones); saying so lets the app close its side at once.
                "Connection": "close",
            }
        )
        self._headers.update(health.headers)
        self._extensions = {
            "timeout": dict.fromkeys(("connect", "read", "write", "pool"), health.timeout)
        }
        # An error may quote a header (h11 does), a body may echo one: neither is told.
        self._secrets = spelled_secrets(health.headers.values())
        self._transport = self._new_transport()

    def _new_transport(self) -> httpx.AsyncBaseTransport:
        if self._url.scheme == "http":
            return PlainHTTPTransport(uds=self._unix_socket)
        # No proxy either way: a transport never reads the environment, unlike a client.
        limits = httpx.Limits(max_keepalive_connections=0)
        return httpx.AsyncHTTPTransport(uds=self._unix_socket, verify=self._ssl, limits=limits)

    async def probe(self) -> ProbeResult:
        started = self._clock()
        status: int | None = None
        error: str | None = None
        body = b""
        timed_out = False
        try:
            # httpx's timeout is per read; a slow drip of bytes must still end at `timeout`.
            async with asyncio.timeout(self._health.timeout):
                status, body = await self._get()
        except (TimeoutError, httpx.TimeoutException):
            timed_out = True
            error = f"no answer within {format_duration(self._health.timeout)}"
            await self._recycle()
        except _ProbeFailedError as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = _describe(exc)
        except Exception as exc:  # noqa: BLE001 - a probe must never take the watchdog down
            error = f"{type(exc).__name__}: {exc}"
        if error is None and status not in self._health.expect_status:
            error = f"unexpected status {status}"
        if error is None and self._health.expect_body is not None:
            error = body_problem(body, self._health.expect_body)
        if error is not None and self._secrets:
            error = redact(error, self._secrets)
        finished = self._clock()
        return ProbeResult(
            ok=error is None,
            status=status,
            latency=finished - started,
            error=error,
            at=finished,
            timed_out=timed_out,
        )

    async def _get(self) -> tuple[int, bytes]:
        url = self._url
        health = self._health
        if not _usable(url):
            raise _ProbeFailedError(f"{show(str(url))} is {NOT_USABLE}")
        for _ in range(MAX_REDIRECTS + 1):
            request = httpx.Request(
                health.method, url, headers=self._headers, extensions=self._extensions
            )
            response = await self._transport.handle_async_request(request)
            try:
                location = _redirect_location(response)
                if location is None:
                    body = await _read_bounded(response, keep=health.expect_body is not None)
                    return response.status_code, body
            finally:
                await response.aclose()
            try:
                target = url.join(location)
            except httpx.InvalidURL as exc:
                raise _ProbeFailedError(f"redirected to an invalid URL: {exc}") from exc
            if not _usable(target):
                raise _ProbeFailedError(f"redirected to {show(str(target))}, {NOT_USABLE}")
            if _origin(target) != _origin(url):
                # A health check must not wander off to another host because it was told to.
                raise _ProbeFailedError(f"redirected to another origin: {_origin(target)}")
            url = target
        raise _ProbeFailedError(f"more than {MAX_REDIRECTS} redirects")

    async def _recycle(self) -> None:
        """A fresh transport after a timeout: a request cut off mid-way can leave its
        connection open in the pool, one more socket per timed-out probe, for ever."""
        old, self._transport = self._transport, self._new_transport()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._health.timeout):
                await old.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()


def _usable(url: httpx.URL) -> bool:
    return url.scheme in ("http", "https") and bool(url.host)


def _redirect_location(response: httpx.Response) -> str | None:
    """Where a redirect points (as httpx's client tells one), or None for any other answer."""
    if response.status_code in REDIRECT_STATUSES:
        return response.headers.get("Location")
    return None


class _ProbeFailedError(Exception):
    """A probe outcome that is a failure without being a transport error."""


def _origin(url: httpx.URL) -> str:
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return f"{url.scheme}://{url.host}:{port}"


async def _read_bounded(response: httpx.Response, *, keep: bool) -> bytes:
    """The body's first MAX_BODY_BYTES, decoded (gzip) when `keep`, else read and dropped."""
    received, kept = 0, bytearray()
    async for chunk in response.aiter_bytes() if keep else response.aiter_raw():
        received += len(chunk)
        if keep:
            kept += chunk[: MAX_BODY_BYTES - len(kept)]
        if received >= MAX_BODY_BYTES:
            break
    return bytes(kept)


def body_problem(body: bytes, expected: str | Mapping[str, Any]) -> str | None:
    """Why `body` is not the healthy answer `expected` describes, or None when it is."""
    text = body.decode("utf-8", "replace")
    came = show(text, BODY_SHOWN) if text else "an empty body"
    if isinstance(expected, str):
        return None if expected in text else f"body without {show(expected)}: got {came}"
    wanted = show(dict(expected), BODY_SHOWN)
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return f"body is not a JSON object with {wanted}: got {came}"
    for key, value in expected.items():
        if key not in answer:
            return f"body without {show(key)} (expected {wanted}): got {came}"
        if not _same(answer[key], value):
            got = show(answer[key], BODY_SHOWN)
            return f"body has {show(key)}: {got}, expected {show(value)}"
    return None


def _same(answer: object, expected: object) -> bool:
    """JSON equality: true is not 1, "1" is not 1, 1 is 1.0."""
    if isinstance(answer, bool) or isinstance(expected, bool):
        return answer is expected
    numbers = (int, float)
    if isinstance(answer, numbers) and isinstance(expected, numbers):
        return answer == expected
    return type(answer) is type(expected) and answer == expected


def _describe(exc: httpx.HTTPError) -> str:
    if _refused(exc):
        return "connection refused"
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or str(cause or "") or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _refused(exc: BaseException) -> bool:
    """Whether the cause chain ends in refused connections (anyio wraps them, maybe in a group)."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, ConnectionRefusedError):
            return True
        if isinstance(link, BaseExceptionGroup):
            return all(_refused(member) for member in link.exceptions)
        link = link.__cause__ or link.__context__
    return False
