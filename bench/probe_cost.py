"""Benchmark: the CPU one health probe costs the watchdog, and what httpx's client costs.

    python bench/probe_cost.py [--probes 3000]

Starts the bundled demo app (loopback only, its access log discarded) and, in this process,
times `--probes` GETs of its /health back to back, in CPU time (user + system) of this
process only, two ways: the watchdog's `Prober.probe` (an http URL goes through its own
transport on the event loop's sockets), and a plain `httpx.AsyncClient` GET with keep-alive
off, as the probe made it before (httpx's default transport: httpcore on anyio). Figures
are medians of three rounds, each way in turn. Back to back, caches stay warm: inside the
running watchdog, one probe a second costs more than this (see bench/README, Own CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
from peers.base import answers, free_port, wait_for

from watchdog.config import HealthConfig
from watchdog.sensors.probe import Prober

ROUNDS = 3


async def cpu_ms_each(probe: Callable[[], Awaitable[bool]], count: int) -> float:
    for _ in range(50):  # warm-up: imports and first-request set-up are not what is measured
        await probe()
    started = time.process_time()
    for _ in range(count):
        if not await probe():
            raise SystemExit("a probe failed: the figures would not be of healthy probes")
    return 1000 * (time.process_time() - started) / count


async def measure(url: str, count: int) -> dict[str, float]:
    health = HealthConfig(
        url=url,
        interval=1.0,
        timeout=2.0,
        max_failures=3,
        startup_timeout=10.0,
        startup_interval=0.1,
        expect_status=(200,),
    )
    prober = Prober(health)
    client = httpx.AsyncClient(
        timeout=2.0, limits=httpx.Limits(max_keepalive_connections=0), trust_env=False
    )

    async def watchdog_probe() -> bool:
        return (await prober.probe()).ok

    async def httpx_client_get() -> bool:
        return (await client.get(url)).status_code == 200

    ways = {"watchdog_probe": watchdog_probe, "httpx_client_get": httpx_client_get}
    rounds: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for _ in range(ROUNDS):
            for name, probe in ways.items():
                rounds[name].append(await cpu_ms_each(probe, count))
    finally:
        await prober.aclose()
        await client.aclose()
    return {f"{name}_cpu_ms": round(statistics.median(ms), 3) for name, ms in rounds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=3000)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/health"
    app = subprocess.Popen(
        [sys.executable, "-m", "watchdog.demo", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: answers(url), 30, 0.05)
        figures = asyncio.run(measure(url, args.probes))
    finally:
        app.terminate()
        app.wait(30)
    print(json.dumps({"probes": args.probes, "rounds": ROUNDS, **figures}, indent=2))


if __name__ == "__main__":
    main()
