"""Remedies carried out: a signal to the app's main process, or a POST to its own origin.
Each ends in a RemedyDone that says how it went; neither ever raises."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Mapping

import httpx

from watchdog import __version__
from watchdog.core.commands import PostApp, SignalApp
from watchdog.core.facts import RemedyDone
from watchdog.core.units import format_duration
from watchdog.process.child import Child
from watchdog.process.tree import app_pids
from watchdog.runtime.shell import Shell
from watchdog.sensors.tls import plain_http_context

GONE = "the child is gone"


def _live(children: Mapping[int, Child], generation: int) -> Child | None:
    """The child the runtime spawned as `generation`, if not yet reaped. Until it is, its
    pid cannot belong to anyone else: a signal to it reaches the app or a zombie of it."""
    child = children.get(generation)
    return None if child is None or child.exited.done() else child


def signal_app(children: Mapping[int, Child], command: SignalApp, now: float) -> RemedyDone:
    """The signal to the main process of `command.generation`, and to nothing else."""
    child = _live(children, command.generation)
    error: str | None = GONE
    if child is not None:
        try:
            os.kill(child.pid, signal.Signals[f"SIG{command.signal}"])
            error = None
        except OSError as exc:
            error = f"SIG{command.signal} to pid {child.pid}: {exc.strerror or exc}"
    return RemedyDone(command.generation, command.ticket, error is None, error, now)


async def post_app(shell: Shell, command: PostApp) -> RemedyDone:
    listen = shell.config.app.listen
    unix = str(listen.path) if listen is not None and listen.path is not None else None
    error = _not_to_post(shell, command) or await post(command.url, command.timeout, unix)
    return RemedyDone(command.generation, command.ticket, error is None, error, shell.clock())


def _not_to_post(shell: Shell, command: PostApp) -> str | None:
    if _live(shell.children, command.generation) is None:
        return GONE
    # As with a probe: only the app counts, and a stranger on its port gets no POST.
    stranger = shell.answers.stranger(app_pids) if shell.answers is not None else None
    return None if stranger is None else f"the port is held by {stranger}, not by the app"


async def post(url: str, timeout: float, unix_socket: str | None = None) -> str | None:
    """POST to `url` with no body: None once it answered 2xx, else what went wrong."""
    verify = plain_http_context(url) or True
    client = httpx.AsyncClient(
        timeout=timeout,
        verify=verify,
        follow_redirects=False,  # a remedy goes to the app, never where it points
        trust_env=False,  # nor through a proxy from the environment
        transport=httpx.AsyncHTTPTransport(uds=unix_socket, verify=verify) if unix_socket else None,
        headers={"User-Agent": f"watchdog/{__version__}"},
    )
    try:
        async with (
            asyncio.timeout(timeout),
            client,
            client.stream("POST", url, content=b"") as response,
        ):
            status = response.status_code  # the body is the app's business
    except (TimeoutError, httpx.TimeoutException):
        return f"no answer within {format_duration(timeout)}"
    except Exception as exc:  # noqa: BLE001 - a remedy must never take the watchdog down
        return f"{type(exc).__name__}: {exc}"
    if 200 <= status < 300:
        return None
    redirect = "; a remedy follows no redirect" if 300 <= status < 400 else ""
    return f"answered {status}{redirect}"
