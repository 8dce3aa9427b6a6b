"""Benchmark: what one resource sample, one quick cap check and one probe's answer check
cost, for a child tree of 1, 10, 50 and 200 processes.

    python bench/sample_cost.py [--samples 50]

The Sampler reads every descendant of the calling process (as the watchdog does for its
child's tree), so the benchmark spawns sleeping processes as its own children; the cap
check reads the same pids, as it does between samples. One of them listens on a loopback
port, as the app does: the answer check (is it the app that answered the probe?) is timed
cold, as for the first answer of a new child (the tree's sockets are looked up), and warm, as
for every later one (the kernel's listening sockets only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from watchdog.sensors.portowner import AnswerCheck
from watchdog.sensors.rss import tree_rss
from watchdog.sensors.sampler import Sampler

LISTENER = (
    "import socket, time; server = socket.create_server(('127.0.0.1', 0));"
    " print(server.getsockname()[1], flush=True); time.sleep(120)"
)


def _cpu_ms(work: object, times: int) -> float:
    spent = []
    for _ in range(times):
        cpu = time.process_time()
        work()  # type: ignore[operator]
        spent.append(time.process_time() - cpu)
    return round(1000 * statistics.median(spent), 3)


def measure(processes: int, samples: int) -> dict[str, float]:
    # A session of their own, like the app the watchdog starts (its own session is for its
    # helpers, which are never counted).
    listener = subprocess.Popen(
        [sys.executable, "-c", LISTENER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    children = [listener] + [
        subprocess.Popen(["sleep", "120"], start_new_session=True) for _ in range(processes - 1)
    ]
    try:
        assert listener.stdout is not None
        url = f"http://127.0.0.1:{int(listener.stdout.readline())}/health"
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
        warm = AnswerCheck(url)
        assert warm.stranger(lambda: sample.pids) is None, "the tree's own socket"
        return {
            "processes": processes,
            "wall_ms_median": round(1000 * statistics.median(walls), 2),
            "cpu_ms_median": round(1000 * statistics.median(cpus), 2),
            "cap_check_cpu_ms_median": round(1000 * statistics.median(checks), 3),
            "answer_check_cold_cpu_ms_median": _cpu_ms(
                lambda: AnswerCheck(url).stranger(lambda: sample.pids), samples
            ),
            "answer_check_warm_cpu_ms_median": _cpu_ms(
                lambda: warm.stranger(lambda: sample.pids), samples
            ),
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
