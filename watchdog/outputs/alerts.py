"""Alerts: a webhook and/or a command told about restarts, crashes and critical levels.

Deciding is pure and synchronous (which events, at most so many a minute); delivery runs
in one background task per target, so a slow or dead receiver never holds up supervision.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable

import httpx

from watchdog import __version__
from watchdog.config.operations import AlertsConfig
from watchdog.core.units import format_duration
from watchdog.outputs.alertrules import AlertRules
from watchdog.outputs.events import Event
from watchdog.outputs.redaction import redact, secrets_of
from watchdog.process.environ import public_environ
from watchdog.sensors.tls import plain_http_context

QUEUE_SIZE = 100  # alerts waiting per target; more are counted as dropped
KEEP_OUTPUT = 4096  # bytes kept of a command's stdout and stderr, from the end
LINE_MAX = 200

Send = Callable[[bytes], Awaitable[str | None]]  # None when delivered, else why not


class Alerter:
    """Sends alerts to the configured webhook and command, in the background."""

    def __init__(
        self,
        config: AlertsConfig,
        app_name: str,
        report: Callable[..., None],
        clock: Callable[[], float] = time.monotonic,
        host: str | None = None,
    ) -> None:
        self._config = config
        self._report = report
        self._rules = AlertRules(config, app_name, host or socket.gethostname(), clock)
        self._secrets = secrets_of(config)
        self._targets: dict[str, Send] = {}
        if config.webhook is not None:
            self._targets["webhook"] = self._post
        if config.command:
            self._targets["command"] = self._run
        self._queues: dict[str, asyncio.Queue[tuple[str, bytes]]] = {
            name: asyncio.Queue(QUEUE_SIZE) for name in self._targets
        }
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    def on_event(self, event: Event) -> None:
        """Decide, and queue the alert if there is one; never waits and never raises."""
        if not self._targets:
            return  # nowhere to send: nothing is dropped either
        try:
            body = None if self._closed else self._rules.consider(event)
            if body is None:
                return
            payload = json.dumps(body, default=str, ensure_ascii=False).encode()
            queued = 0
            for queue in self._queues.values():
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait((body["event"], payload))
                    queued += 1
            if queued < len(self._queues):
                self._rules.limit.dropped += 1  # a backlog: reported once it has cleared
            else:
                self._report_dropped()
            self._start_workers()
        except Exception as exc:  # noqa: BLE001 - an output must never stop supervision
            self._failed(event.name, "all", f"{type(exc).__name__}: {exc}")

    async def aclose(self, timeout: float = 2.0) -> None:
        """Let queued and in-flight alerts go out for up to `timeout` seconds, then stop."""
        self._closed = True
        self._start_workers()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(queue.join() for queue in self._queues.values()))
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._rules.limit.dropped += max((q.qsize() for q in self._queues.values()), default=0)
        if self._client is not None:
            await self._client.aclose()
        self._report_dropped()

    def _start_workers(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # started by the next event inside the loop, or by aclose
        for name, send in self._targets.items():
            worker = self._workers.get(name)
            if worker is None or worker.done():
                self._workers[name] = loop.create_task(self._work(name, send))

    async def _work(self, target: str, send: Send) -> None:
        queue = self._queues[target]
        while True:
            kind, payload = await queue.get()
            try:
                error = await send(payload)
            except asyncio.CancelledError:
                self._failed(kind, target, "cancelled at shutdown")
                raise
            except Exception as exc:  # noqa: BLE001 - one bad alert must not end the worker
                error = f"{type(exc).__name__}: {exc}"
            finally:
                queue.task_done()
            if error is None:
                self._report("alert_sent", category="main", kind=kind, target=target)
            else:
                self._failed(kind, target, error)

    def _failed(self, kind: str, target: str, error: str) -> None:
        with contextlib.suppress(Exception):
            error = redact(error, self._secrets)[:LINE_MAX]
            self._report("alert_failed", level="error", kind=kind, target=target, error=error)

    def _report_dropped(self) -> None:
        count = self._rules.limit.take_dropped()
        if count:
            per_minute = self._config.max_per_minute
            self._report("alerts_dropped", level="warning", count=count, per_minute=per_minute)

    async def _post(self, payload: bytes) -> str | None:
        hook = self._config.webhook
        assert hook is not None
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=hook.timeout,
                verify=plain_http_context(hook.url) or True,
                follow_redirects=False,  # a receiver moved elsewhere is a failure to see
                trust_env=False,  # no proxy from the environment sees the URL or headers
                limits=httpx.Limits(max_keepalive_connections=0),
                headers={"User-Agent": f"watchdog/{__version__}"},
            )
        headers = {"Content-Type": "application/json", **hook.headers}
        try:
            # httpx's timeout is per read; a receiver dripping bytes must still end on time.
            async with (
                asyncio.timeout(hook.timeout),
                self._client.stream("POST", hook.url, content=payload, headers=headers) as answer,
            ):
                status = answer.status_code  # the body is never read: it could be endless
        except (TimeoutError, httpx.TimeoutException):
            return f"no answer within {format_duration(hook.timeout)}"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {str(exc) or exc.__cause__}"
        return None if 200 <= status < 300 else f"HTTP status {status}"

    async def _run(self, payload: bytes) -> str | None:
        command, timeout = self._config.command, self._config.command_timeout
        assert command
        pipe = asyncio.subprocess.PIPE
        try:
            # A process group of its own, so that a timeout kills whatever it started too;
            # our session, so that it is never taken for part of the app (child.is_helper).
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=pipe,
                stdout=pipe,
                stderr=pipe,
                process_group=0,
                env=public_environ(),
            )
        except OSError as exc:
            return f"cannot run {command[0]}: {exc.strerror or exc}"
        readers = [asyncio.ensure_future(_tail(out)) for out in (process.stdout, process.stderr)]
        finished = False
        try:
            async with asyncio.timeout(timeout):
                await _feed(process.stdin, payload)
                code = await process.wait()
                _, stderr = await asyncio.gather(*readers)
                finished = True
        except TimeoutError:
            return f"no exit within {format_duration(timeout)}: killed"
        finally:
            if not finished:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                for reader in readers:
                    reader.cancel()
                await process.wait()
        if code == 0:
            return None
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        what = f"exit code {code}" if code > 0 else f"killed by signal {-code}"
        return f"{what}: {lines[-1][:LINE_MAX]}" if lines else what


async def _feed(stdin: asyncio.StreamWriter | None, payload: bytes) -> None:
    if stdin is None:
        return
    # A command that exits without reading its input has not failed for that alone.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.write(payload)
        await stdin.drain()
    stdin.close()


async def _tail(stream: asyncio.StreamReader | None) -> bytes:
    kept = b""
    while stream is not None and (chunk := await stream.read(65536)):
        kept = (kept + chunk)[-KEEP_OUTPUT:]
    return kept
