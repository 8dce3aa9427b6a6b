"""Benchmark: the watchdog's own cost, and how fast a crashed API answers again.

    python bench/crash_recovery.py [--runs 7] [--idle 20]

Starts `watchdog run` on the bundled demo app (loopback only), then:
  1. own cost: RSS and CPU time of the watchdog process over `--idle` seconds while it
     supervises a healthy app, at the guide's pace (probe 60s) and an aggressive one (1s);
  2. crash -> healthy: SIGKILL the child from outside and time, from this side, until the
     new child answers /health; the app's own boot time is read from its child_healthy
     event and shown separately.
Each run is bounded in count and time; figures are medians.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml
from peers.base import answers, events, free_port, wait_for

STEP = 0.002  # seconds between looks: recovery takes about 0.1 s


def start(parent: Path, interval: str) -> tuple[subprocess.Popen, Path, str]:
    workdir = Path(tempfile.mkdtemp(dir=parent))
    port = free_port()
    url = f"http://127.0.0.1:{port}/health"
    config = {
        "app": {
            "name": "bench",
            "command": ["{python}", "-m", "watchdog.demo", "--port", str(port)],
        },
        "health": {"url": url, "interval": interval, "timeout": "500ms"},
        # Each kill below is a one-off crash of a healthy app, as in production; a short
        # backoff_reset keeps them from being read as a crash loop.
        "restart": {"backoff_reset": "200ms", "crash_loop": {"max_crashes": 1000}},
        "logging": {"dir": "logs"},
    }
    path = workdir / f"bench-{interval}.yaml"
    path.write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "watchdog", "run", "--config", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = workdir / "logs" / "bench.log"
    wait_for(lambda: events(log, "child_healthy"), 20, STEP)
    return process, log, url


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def own_cost(workdir: Path, interval: str, idle: float) -> dict[str, float]:
    process, _, _ = start(workdir, interval)
    try:
        watchdog = psutil.Process(process.pid)
        time.sleep(2)  # past start-up imports and the first probes
        before = watchdog.cpu_times()
        time.sleep(idle)
        after = watchdog.cpu_times()
        cpu = (after.user + after.system - before.user - before.system) / idle
        rss = watchdog.memory_info().rss
        return {
            "rss_mib": rss / 2**20,
            "cpu_percent": 100 * cpu,
            "cpu_seconds_per_hour": cpu * 3600,
        }
    finally:
        stop(process)


def crash_recovery(workdir: Path, runs: int) -> dict[str, float]:
    process, log, url = start(workdir, "60s")
    recoveries, boots = [], []
    try:
        for run in range(runs):
            child = events(log, "child_started")[-1]["pid"]
            time.sleep(0.5)  # longer than backoff_reset: a one-off crash
            killed = time.monotonic()
            os.kill(child, signal.SIGKILL)
            wait_for(lambda c=child: events(log, "child_started")[-1]["pid"] != c, 10, STEP)
            wait_for(lambda: answers(url), 10, STEP)
            recoveries.append(time.monotonic() - killed)
            healthy = wait_for(
                lambda n=run + 2: (
                    len(events(log, "child_healthy")) >= n and events(log, "child_healthy")[-1]
                ),
                10,
                STEP,
            )
            boots.append(healthy["startup"])
    finally:
        stop(process)
    return {
        "crash_to_healthy_s": statistics.median(recoveries),
        "app_boot_s": statistics.median(boots),
        "watchdog_overhead_s": statistics.median(recoveries) - statistics.median(boots),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--idle", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results = {
            "own_cost_guide_pace_60s": own_cost(workdir, "60s", args.idle),
            "own_cost_probe_every_1s": own_cost(workdir, "1s", args.idle),
            "crash_recovery": crash_recovery(workdir, args.runs),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
