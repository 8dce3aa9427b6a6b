"""Alerts: a webhook and/or a command told about restarts, crashes and critical levels.

Deciding is pure and synchronous (which events, at most so many a minute); delivery runs
in one background task per target, so a slow or dead receiver never holds up supervision.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from watchdog import __version__
from watchdog.config.operations import AlertsConfig
from watchdog.core.units import format_duration
from watchdog.outputs.events import Event
from watchdog.process.environ import public_environ

QUEUE_SIZE = 100  # alerts waiting per target; more are counted as dropped
WINDOW = 60.0
KEEP_OUTPUT = 4096  # bytes kept of a command's stdout and stderr, from the end
LINE_MAX = 200
TEXT_MAX = 500
MIN_PIECE = 3  # shorter pieces of a URL or header cannot hide a secret worth the name
REDACTED = "<redacted>"
KIND_OF_NAME = {
    "restart_triggered": "restart",
    "restart_failed": "restart",  # an overlap whose new child never served: the old one does
    "child_exited": "crash",
    "crash_loop": "crash_loop",
    "RESTART_RECOMMENDED": "restart_recommended",
}

Send = Callable[[bytes], Awaitable[str | None]]  # None when delivered, else why not


def alert_kind(event: Event, kinds: Collection[str]) -> str | None:
    """The configured alert kind that `event` is, or None when it is no alert."""
    kind = KIND_OF_NAME.get(event.name)
    if event.name == "level_changed" and event.fields.get("status") == "critical":
        # A context figure (a busy host) is no alert unless resources.host.alert asks.
        kind = None if event.fields.get("context") else "critical"
    elif event.name == "child_healthy" and event.fields.get("downtime") is not None:
        kind = "recovered"  # the first healthy answer after a planned start is no news
    return kind if kind in kinds else None


class RateLimit:
    """At most `limit` passes in any sliding window; the rest are only counted."""

    def __init__(self, limit: int, window: float = WINDOW) -> None:
        self._limit = limit
        self._window = window
        self._passed: deque[float] = deque()
        self.dropped = 0

    def allow(self, now: float) -> bool:
        while self._passed and now - self._passed[0] >= self._window:
            self._passed.popleft()
        if len(self._passed) >= self._limit:
            self.dropped += 1
            return False
        self._passed.append(now)
        return True

    def take_dropped(self) -> int:
        count, self.dropped = self.dropped, 0
        return count


def _fields(event: Event) -> dict[str, Any]:
    # `also` routes an event to more log files; it says nothing about what happened.
    return {key: value for key, value in event.fields.items() if key != "also"}


def _slack_line(text: str) -> str:
    # Slack reads &, < and > as markup; one line keeps chat and grep readable.
    line = " ".join(text.split())[:TEXT_MAX]
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class AlertRules:
    """Pure: the alert body an event makes, if any, within the per-minute limit."""

    def __init__(
        self, config: AlertsConfig, app_name: str, host: str, clock: Callable[[], float]
    ) -> None:
        self._kinds = frozenset(config.events)
        self._app = app_name
        self._host = host
        self._clock = clock
        self.limit = RateLimit(config.max_per_minute)
        self._metrics: dict[str, Any] = {}
        self._probe: dict[str, Any] = {}

    def consider(self, event: Event) -> dict[str, Any] | None:
        if event.name == "resource_sample":
            self._metrics = _fields(event)
        elif event.name in ("probe_ok", "probe_failed"):
            status, latency = event.fields.get("status"), event.fields.get("latency")
            self._probe = {"ok": event.name == "probe_ok", "status": status, "latency": latency}
        kind = alert_kind(event, self._kinds)
        if kind is None or not self.limit.allow(self._clock()):
            return None
        return self.body(kind, event)

    def body(self, kind: str, event: Event) -> dict[str, Any]:
        """What a receiver gets: the event, its context, and one line for a chat channel."""
        fields = _fields(event)
        reasons = (fields.get(key) for key in ("reason", "message", "exit"))
        reason = next((text for text in reasons if text is not None), None)
        summary = event.name if reason is None else reason
        if reason is None and kind == "recovered":
            summary = f"healthy again after {fields['downtime']}s down"
        stamp = datetime.fromtimestamp(event.wall, UTC).isoformat(timespec="milliseconds")
        return {
            "event": kind,
            "name": event.name,
            "app": self._app,
            "host": self._host,
            "level": event.level,
            "reason": reason,
            "time": stamp.replace("+00:00", "Z"),
            "fields": fields,
            "metrics": dict(self._metrics),
            "last_probe": dict(self._probe),
            "text": _slack_line(f"[{self._app}@{self._host}] {kind}: {summary}"),
        }


def _spellings(text: str) -> set[str]:
    """`text` as an error message may quote it: as is, and escaped the ways Python, JSON and
    URLs escape (a header value shows in h11's error as a bytes repr: b'Bearer x\\r\\n...')."""
    found = {text}
    for _ in range(2):  # a quoted text may be quoted once more (a repr of a repr)
        for form in list(found):
            percent = quote(form, safe="")
            found.update(
                (
                    repr(form)[1:-1],
                    repr(form.encode("utf-8", "backslashreplace"))[2:-1],
                    json.dumps(form)[1:-1],
                    json.dumps(form, ensure_ascii=False)[1:-1],
                    percent,
                    re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), percent),
                    quote(form),
                    quote_plus(form),
                )
            )
    return found


def secrets_of(config: AlertsConfig) -> list[str]:
    """Texts never to report: the webhook URL beyond scheme://host, and header values."""
    hook = config.webhook
    if hook is None:
        return []
    url = httpx.URL(hook.url)
    private = [url.raw_path.decode("ascii"), url.path, url.fragment, *hook.headers.values()]
    private.append(url.userinfo.decode("ascii"))
    # Pieces too: a message may quote one path segment or the token after "Bearer".
    pieces = [p for text in private for p in re.split(r"[/?&=#:@\s]+", text) if len(p) >= MIN_PIECE]
    found = {hook.url, str(url), *pieces, *(text for text in private if text not in ("", "/"))}
    spelled = {form for text in found for form in _spellings(text)}
    return sorted(spelled, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced, longest first so that no part of one survives.

    One pass: a short secret ("act") must not match inside a <redacted> already put in.
    """
    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not ordered:
        return text
    return re.sub("|".join(map(re.escape, ordered)), REDACTED, text)


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
