"""A bounded open-loop load generator on loopback: N requests a second, each on a new connection.

A new connection per request is the point: a refused connection is what a restart without
a held socket costs, and a kept-alive one would hide it. Used by the zero-downtime tests and
by bench/zero_downtime.py.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

REQUEST_TIMEOUT = 10.0
MAX_REQUESTS = 20_000  # whatever the arguments, a run stays bounded


@dataclass
class Outcome:
    sent_at: float  # monotonic
    latency: float
    result: str  # "ok", "refused", "reset", "timeout", "status 503", ...


@dataclass
class LoadReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.result for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result != "ok"]

    def latencies(self, since: float = float("-inf"), until: float = float("inf")) -> list[float]:
        return sorted(o.latency for o in self.outcomes if since <= o.sent_at <= until)

    def summary(self, since: float = float("-inf"), until: float = float("inf")) -> dict:
        values = self.latencies(since, until)
        if not values:
            return {"requests": 0}
        return {
            "requests": len(values),
            "p50_ms": round(1000 * statistics.median(values), 1),
            "p99_ms": round(1000 * values[min(len(values) - 1, int(0.99 * len(values)))], 1),
            "max_ms": round(1000 * values[-1], 1),
        }


async def _one(host: str, port: int, path: str) -> tuple[str, float]:
    started = time.monotonic()
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                writer.write(request.encode())
                await writer.drain()
                answer = await reader.read()
            finally:
                writer.close()
    except ConnectionRefusedError:
        return "refused", time.monotonic() - started
    except (ConnectionResetError, BrokenPipeError):
        return "reset", time.monotonic() - started
    except TimeoutError:
        return "timeout", time.monotonic() - started
    except OSError as exc:
        return f"error {exc.errno}", time.monotonic() - started
    latency = time.monotonic() - started
    status_line = answer.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2:
        return "empty answer", latency
    status = int(status_line[1])
    return ("ok" if status == 200 else f"status {status}"), latency


async def _run(
    host: str,
    port: int,
    path: str,
    rate: float,
    duration: float,
    *,
    stop: threading.Event,
    report: LoadReport,
) -> LoadReport:
    total = min(int(rate * duration), MAX_REQUESTS)
    start = time.monotonic()
    tasks = []

    async def record(sent_at: float) -> None:
        result, latency = await _one(host, port, path)
        report.outcomes.append(Outcome(sent_at, latency, result))

    for index in range(total):
        # Open loop: requests go out on schedule, however slowly the server answers.
        await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
        if stop.is_set():
            break
        tasks.append(asyncio.create_task(record(time.monotonic())))
    await asyncio.gather(*tasks)
    report.outcomes.sort(key=lambda o: o.sent_at)
    return report


class Load:
    """Runs the load in a thread of its own, so a test can act while it runs.

    `duration` is the longest it runs; `stop()` ends the sending sooner (the requests
    already sent are still waited for), so that a load can last as long as the restarts
    it covers, however long the host makes them.
    """

    def __init__(self, port: int, rate: float, duration: float, path: str = "/health") -> None:
        self._report = LoadReport()
        self._finished = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._main, args=("127.0.0.1", port, path, rate, duration), daemon=True
        )

    def _main(self, host: str, port: int, path: str, rate: float, duration: float) -> None:
        asyncio.run(
            _run(host, port, path, rate, duration, stop=self._stop, report=self._report)
        )
        self._finished = True

    def start(self) -> Load:
        self._thread.start()
        return self

    def answered(self) -> int:
        """How many requests have had their answer so far, while the load runs."""
        return len(self._report.outcomes)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> LoadReport:
        self._thread.join(timeout)
        assert self._finished, "the load did not finish in time"
        return self._report
