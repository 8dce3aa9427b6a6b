"""Benchmark: does the watchdog leak itself? Its RSS, fds and threads over many cycles.

    python bench/self_soak.py [--probes 50000] [--limit 900] [--interval 10ms] [--timeout 9ms]

Starts `watchdog run` on the bundled demo app (loopback only) with a probe and a full
resource sample every `--interval`, logging at warning level (so the disk is not the
subject), and the metrics endpoint on, which counts the probes. Its RSS, open fds and
threads are read once warmed up (after 1,000 probes) and again when `--probes` probes are
done or `--limit` seconds have passed, whichever comes first; RSS also at each tenth of the
run, and its growth over the second half apart (bounded histories fill up in the first).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import yaml
from peers.base import free_port


def probes_done(metrics_url: str) -> int:
    try:
        with urllib.request.urlopen(metrics_url, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("watchdog_probes_total{")
    )


def footprint(process: psutil.Process) -> dict[str, float]:
    return {
        "rss_mib": round(process.memory_info().rss / 2**20, 2),
        "fds": process.num_fds(),
        "threads": process.num_threads(),
    }


def second_half(checkpoints: list[dict[str, float]], end_rss: float) -> float | None:
    """RSS growth from the run's middle checkpoint to its end."""
    if len(checkpoints) < 2:
        return None
    return round(end_rss - checkpoints[len(checkpoints) // 2 - 1]["rss_mib"], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=50_000)
    parser.add_argument("--limit", type=float, default=900.0, help="seconds, at most")
    parser.add_argument("--interval", default="10ms")
    parser.add_argument("--timeout", default="9ms", help="probe timeout, below --interval")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="watchdog-soak-"))
    port, metrics_port = free_port(), free_port()
    config = {
        "app": {
            "name": "soak",
            "command": ["{python}", "-m", "watchdog.demo", "--port", str(port)],
        },
        "health": {
            "url": f"http://127.0.0.1:{port}/health",
            "interval": args.interval,
            "timeout": args.timeout,
            "max_failures": 1000,
        },
        "resources": {"interval": args.interval},
        "logging": {"dir": "logs", "level": "warning"},
        "metrics": {"listen": f"127.0.0.1:{metrics_port}"},
    }
    path = workdir / "soak.yaml"
    path.write_text(yaml.safe_dump(config))
    watchdog = subprocess.Popen(
        [sys.executable, "-m", "watchdog", "run", "--config", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    started = time.monotonic()
    try:
        process = psutil.Process(watchdog.pid)
        while probes_done(metrics_url) < 1000 and time.monotonic() - started < args.limit:
            time.sleep(1)
        warm, warm_probes = footprint(process), probes_done(metrics_url)
        cpu_before = process.cpu_times()
        # RSS at each tenth of the run: a history filling up to its bound flattens out,
        # a leak keeps its slope to the end.
        step = max((args.probes - warm_probes) // 10, 1)
        checkpoints: list[dict[str, float]] = []
        done = warm_probes
        while done < args.probes and time.monotonic() - started < args.limit:
            time.sleep(2)
            done = probes_done(metrics_url)
            if done >= warm_probes + step * (len(checkpoints) + 1):
                checkpoints.append({"probes": done, **footprint(process)})
        end, end_probes, end_at = footprint(process), probes_done(metrics_url), time.monotonic()
        cpu_after = process.cpu_times()
    finally:
        watchdog.send_signal(signal.SIGTERM)
        watchdog.wait(30)
    used = cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system
    cycles = end_probes - warm_probes
    print(
        json.dumps(
            {
                "interval": args.interval,
                "probes": end_probes,
                "seconds": round(end_at - started, 1),
                "warm": warm,
                "end": end,
                "rss_growth_mib": round(end["rss_mib"] - warm["rss_mib"], 2),
                "rss_growth_second_half_mib": second_half(checkpoints, end["rss_mib"]),
                "rss_by_probes": checkpoints,
                "cpu_ms_per_probe_and_sample": round(1000 * used / max(cycles, 1), 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
