"""Benchmark: the watchdog's own CPU, per probe cycle, per sample cycle, and at two paces.

    python bench/own_cpu.py [--window 20] [--fast 10ms] [--runs 3] [--setups idle,...]

Starts `watchdog run` on the bundled demo app (loopback only, logging at the default info
level, so every probe and sample is written as in production) in four setups, and reads
the CPU seconds (user + system) of the watchdog process over `--window` seconds of each,
after a warm-up:
  idle    probe 60 s, sample 60 s: what the loop costs doing neither
  probes  probe every `--fast`, sample 60 s: (CPU - idle) / probes = ms per probe cycle
  samples probe 60 s, sample every `--fast`: (CPU - idle) / samples = ms per sample cycle
  1s      probe 1 s, sample 1 s, max_rss 200MB checked every 100 ms (compare.py's setup)
  guide   probe 60 s, sample 10 s (the guide's pace)
Probes and samples are counted from the health and performance log files. CPU time, not
wall time, so a busy host distorts less; the host's load average is printed alongside.
Figures are medians over `--runs`. `--setups` picks some (ms per probe or sample cycle
needs `idle` too). CPU times tick in 10 ms: a setup that costs little needs a long window.
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
from typing import Any

import psutil
import yaml
from peers.base import answers, free_port, wait_for

WARM_UP = 3.0  # seconds: past start-up imports and the first probes
# name: (probe interval, sample interval, max_rss with 100 ms cap checks); "fast" is --fast
SETUPS = {
    "idle": ("60s", "60s", False),
    "probes": ("fast", "60s", False),
    "samples": ("60s", "fast", False),
    "1s": ("1s", "1s", True),
    "guide": ("60s", "10s", False),
}


def config(port: int, probe: str, sample: str, cap: bool) -> dict[str, Any]:
    memory: dict[str, Any] = {"max_rss": "200MB", "cap_interval": "100ms"} if cap else {}
    seconds = float(probe[:-2]) / 1000 if probe.endswith("ms") else float(probe[:-1])
    return {
        "app": {
            "name": "own",
            "command": ["{python}", "-m", "watchdog.demo", "--port", str(port)],
        },
        "health": {
            "url": f"http://127.0.0.1:{port}/health",
            "interval": probe,
            "timeout": f"{min(seconds * 0.9, 5.0) * 1000:g}ms",
            "max_failures": 1000,
        },
        "resources": {"interval": sample, "memory": memory},
        "logging": {"dir": "logs"},
    }


def count(path: Path, event: str) -> int:
    try:
        with path.open("rb") as log:
            return sum(1 for line in log if f'"event": "{event}"'.encode() in line)
    except OSError:
        return 0


def measure(parent: Path, probe: str, sample: str, window: float, cap: bool = False) -> dict:
    workdir = Path(tempfile.mkdtemp(dir=parent))
    port = free_port()
    path = workdir / "own.yaml"
    path.write_text(yaml.safe_dump(config(port, probe, sample, cap)))
    process = subprocess.Popen(
        [sys.executable, "-m", "watchdog", "run", "--config", str(path)],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    health = workdir / "logs" / "own_health.log"
    performance = workdir / "logs" / "own_performance.log"
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/health"), 30, 0.05)
        time.sleep(WARM_UP)
        watchdog = psutil.Process(process.pid)
        probes, samples = count(health, "probe_ok"), count(performance, "resource_sample")
        before = watchdog.cpu_times()
        time.sleep(window)
        after = watchdog.cpu_times()
        probes = count(health, "probe_ok") - probes
        samples = count(performance, "resource_sample") - samples
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    used = after.user + after.system - before.user - before.system
    return {"cpu_s": used, "probes": probes, "samples": samples, "window": window}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--fast", default="10ms", help="the fast pace of probes or samples")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--setups", default=",".join(SETUPS))
    args = parser.parse_args()
    chosen = args.setups.split(",")
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {name: [] for name in chosen}
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp)
        for _ in range(args.runs):
            for name in chosen:
                probe, sample, cap = SETUPS[name]
                probe, sample = (args.fast if x == "fast" else x for x in (probe, sample))
                runs[name].append(measure(parent, probe, sample, args.window, cap))

    def share(kind: str) -> float:
        return statistics.median(run["cpu_s"] / run["window"] for run in runs[kind])

    figures: dict[str, Any] = {}
    if "idle" in runs:
        idle = share("idle")
        figures["idle_percent_of_core"] = round(100 * idle, 3)
        for kind, what in (("probes", "probes"), ("samples", "samples")):
            if kind in runs:
                figures[f"cpu_ms_per_{what[:-1]}_cycle"] = round(
                    statistics.median(
                        1000 * (run["cpu_s"] - idle * run["window"]) / max(run[what], 1)
                        for run in runs[kind]
                    ),
                    3,
                )
    for kind, label in (("1s", "1s_pace_with_cap"), ("guide", "guide_pace")):
        if kind in runs:
            figures[f"percent_of_core_{label}"] = round(100 * share(kind), 3)
            figures[f"cpu_s_per_h_{label}"] = round(3600 * share(kind), 2)
    figures["load_average_before"] = [round(x, 2) for x in load_before]
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({**figures, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
