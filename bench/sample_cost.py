"""Benchmark: what one resource sample and one quick cap check cost, for a child tree of
1, 10, 50 and 200 processes.

    python bench/sample_cost.py [--samples 50]

The Sampler reads every descendant of the calling process (as the watchdog does for its
child's tree), so the benchmark spawns sleeping processes as its own children; the cap
check reads the same pids, as it does between samples.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

from watchdog.sensors.rss import tree_rss
from watchdog.sensors.sampler import Sampler


def measure(processes: int, samples: int) -> dict[str, float]:
    children = [
        # A session of their own, like the app the watchdog starts (its own session is
        # for its helpers, which are never counted).
        subprocess.Popen(["sleep", "120"], start_new_session=True)
        for _ in range(processes)
    ]
    try:
        time.sleep(0.5)  # let them start
        sampler = Sampler([Path("/")])
        walls, cpus = [], []
        for _ in range(samples):
            wall, cpu = time.perf_counter(), time.process_time()
            sample = sampler.sample()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        assert sample.procs == processes, sample.procs
        checks = []
        for _ in range(samples):
            cpu = time.process_time()
            tree_rss(sample.pids[0], sample.pids)
            checks.append(time.process_time() - cpu)
        return {
            "processes": processes,
            "wall_ms_median": round(1000 * statistics.median(walls), 2),
            "cpu_ms_median": round(1000 * statistics.median(cpus), 2),
            "cap_check_cpu_ms_median": round(1000 * statistics.median(checks), 3),
        }
    finally:
        for child in children:
            child.kill()
            child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps([measure(n, args.samples) for n in (1, 10, 50, 200)], indent=2))


if __name__ == "__main__":
    main()
