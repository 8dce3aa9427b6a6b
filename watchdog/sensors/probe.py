"""The health probe: one HTTP GET with a hard deadline. It reports, it never raises."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import httpx

from watchdog import __version__
from watchdog.config import HealthConfig
from watchdog.core.observations import ProbeResult
from watchdog.core.units import format_duration

MAX_BODY_BYTES = 64 * 1024
MAX_REDIRECTS = 5


class Prober:
    """Probes one health URL; each probe opens a fresh connection and reads a bounded body."""

    def __init__(
        self,
        health: HealthConfig,
        clock: Callable[[], float] = time.monotonic,
        unix_socket: str | None = None,
    ) -> None:
        self._health = health
        self._clock = clock
        self._unix_socket = unix_socket  # the app listens there; the URL names the Host only
        self._ssl = httpx.create_ssl_context()  # once: loading the CA bundle is dear
        self._client = self._new_client()

    def _new_client(self) -> httpx.AsyncClient:
        # A kept-alive connection would hide an app that no longer accepts new ones.
        limits = httpx.Limits(max_keepalive_connections=0)
        transport = (
            httpx.AsyncHTTPTransport(uds=self._unix_socket, verify=self._ssl, limits=limits)
            if self._unix_socket
            else None
        )
        return httpx.AsyncClient(
            timeout=self._health.timeout,
            verify=self._ssl,
            follow_redirects=False,  # followed by hand, and only to the same origin
            # A proxy from the environment must never stand between us and a loopback app.
            trust_env=False,
            limits=limits,
            transport=transport,
            headers={"User-Agent": f"watchdog/{__version__}"},
        )

    async def probe(self) -> ProbeResult:
        started = self._clock()
        status: int | None = None
        error: str | None = None
        timed_out = False
        try:
            # httpx's timeout is per read; a slow drip of bytes must still end at `timeout`.
            async with asyncio.timeout(self._health.timeout):
                status = await self._get()
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
        finished = self._clock()
        return ProbeResult(
            ok=error is None,
            status=status,
            latency=finished - started,
            error=error,
            at=finished,
            timed_out=timed_out,
        )

    async def _get(self) -> int:
        url = httpx.URL(self._health.url)
        for _ in range(MAX_REDIRECTS + 1):
            async with self._client.stream("GET", url) as response:
                target = response.next_request.url if response.next_request else None
                if target is None:
                    await _read_bounded(response)
                    return response.status_code
            if _origin(target) != _origin(url):
                # A health check must not wander off to another host because it was told to.
                raise _ProbeFailedError(f"redirected to another origin: {_origin(target)}")
            url = target
        raise _ProbeFailedError(f"more than {MAX_REDIRECTS} redirects")

    async def _recycle(self) -> None:
        """A fresh client after a timeout: a request cut off mid-way can leave its
        connection open in the pool, one more socket per timed-out probe, for ever."""
        old, self._client = self._client, self._new_client()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._health.timeout):
                await old.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()


class _ProbeFailedError(Exception):
    """A probe outcome that is a failure without being a transport error."""


def _origin(url: httpx.URL) -> str:
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return f"{url.scheme}://{url.host}:{port}"


async def _read_bounded(response: httpx.Response) -> None:
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received >= MAX_BODY_BYTES:
            return


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
