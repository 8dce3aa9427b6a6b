"""Benchmark: what one event costs the watchdog to log, on one core.

    python bench/logging_throughput.py [--events 50000]

Structured events go through structlog to their category file (JSON) and the console
(here /dev/null); child output takes the direct path, one JSON line per output line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from watchdog.config import parse
from watchdog.outputs.logs import open_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, open("/dev/null", "w") as console:
        config = parse(
            {"app": {"name": "bench", "command": ["x"]}, "logging": {"dir": tmp}}, Path(tmp)
        )
        events = open_events(config, console=console)
        started = time.process_time()
        for _ in range(args.events):
            events("probe_ok", category="health", also=("performance",), status=200, latency=0.0042)
        structured = args.events / (time.process_time() - started)
        chunk = ['INFO:     127.0.0.1:53211 - "GET /items/42 HTTP/1.1" 200 OK'] * 500
        started = time.process_time()
        for _ in range(args.events // 500):
            events.child_output("stdout", chunk, 1)
        lines = (args.events // 500) * 500 / (time.process_time() - started)
    print(
        json.dumps(
            {
                "structured_events_per_cpu_second": round(structured),
                "microseconds_per_structured_event": round(1e6 / structured, 1),
                "child_output_lines_per_cpu_second": round(lines),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
