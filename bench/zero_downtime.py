"""Benchmark: what a restart costs the API's clients, with the held socket and without.

    python bench/zero_downtime.py [--rate 200] [--duration 10] [--runs 3]

A real uvicorn + FastAPI app (tests/apps/fastapi_app.py) under `watchdog run`, loaded with
`--rate` requests a second for `--duration` seconds, each on a new loopback connection
(tests/loadgen.py). A third of the way in, one restart: a failing health check
(probe-triggered), SIGUSR1 (an operator's), or a crash (GET /crash). Three setups:
  plain       uvicorn binds its own port (what every supervisor does)
  stop_start  app.listen: the watchdog holds the socket; stop the old child, start the new
  overlap     app.listen and restart.strategy overlap: new child first, then the old drains
Counted: failed requests, refused connections; latency p50/p99/max of the requests sent
from the trigger until the new child answered healthy, next to the same before it.
Loops are bounded in count and time; figures are medians over --runs.

    python bench/zero_downtime.py --servers all [--restarts 20] [--rate 200]
        [--strategies stop_start,overlap] [--via watchdog,direct,direct-quiesce]

Instead, for each server (demo, uvicorn, gunicorn-gthread, gunicorn-uvicorn), strategy and
way of restarting: --restarts restarts in a row under load, and what each one lost
(bench/restart_series.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from peers.base import events, free_port, wait_for  # noqa: E402
from restart_series import HEADER, SERVERS, line, series, start_watchdog  # noqa: E402

from tests.loadgen import Load  # noqa: E402 - the repo root must be on the path first

APPS = REPO / "tests" / "apps"
SETUPS = ("plain", "stop_start", "overlap")
KINDS = ("probe", "sigusr1", "crash")
WAIT = 60.0


def wait_for_event(log: Path, name: str, count: int = 1) -> list[dict]:
    return wait_for(lambda: len(found := events(log, name)) >= count and found, WAIT, 0.02)


def config(setup: str, port: int, marker: Path) -> dict:
    bind = ["--fd", "{fd}"] if setup != "plain" else ["--host", "127.0.0.1", "--port", str(port)]
    app = {
        "name": "bench",
        "command": [
            sys.executable,
            "-m",
            "uvicorn",
            "fastapi_app:app",
            *bind,
            "--log-level",
            "warning",
        ],
        "cwd": str(APPS),
        "env": {"UNHEALTHY_IF": str(marker)},
        "stop_timeout": "10s",
    }
    if setup != "plain":
        app["listen"] = f"127.0.0.1:{port}"
    return {
        "app": app,
        "health": {
            "url": f"http://127.0.0.1:{port}/health",
            "interval": "1s",
            "timeout": "900ms",
            "max_failures": 3,
            "startup_timeout": "30s",
            "startup_interval": "50ms",
        },
        "restart": {
            "min_interval": "1s",
            "strategy": "overlap" if setup == "overlap" else "stop_start",
        },
        "logging": {"dir": "logs", "level": "info"},
    }


def trigger(kind: str, watchdog: subprocess.Popen, port: int, marker: Path) -> None:
    if kind == "sigusr1":
        watchdog.send_signal(signal.SIGUSR1)
    elif kind == "probe":
        marker.touch()  # /health answers 503 until the restart is under way
    else:
        # The process dies answering it: an error here is the point.
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/crash", timeout=2)


def one_run(setup: str, kind: str, rate: float, duration: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="zd-") as folder:
        work = Path(folder)
        port, marker = free_port(), work / "unhealthy"
        (work / "watchdog.yaml").write_text(yaml.safe_dump(config(setup, port, marker)))
        log = work / "logs" / "bench.log"
        watchdog = start_watchdog(work)
        try:
            wait_for_event(log, "child_healthy")
            load = Load(port, rate, duration, "/work?ms=20").start()
            time.sleep(duration / 3)
            fired = time.monotonic()
            trigger(kind, watchdog, port, marker)
            if kind == "probe":
                wait_for_event(log, "restart_triggered")
                marker.unlink()
            wait_for_event(log, "child_healthy", count=2)
            back = time.monotonic()
            report = load.join(timeout=duration + 30)
        finally:
            watchdog.send_signal(signal.SIGTERM)
            watchdog.wait(30)
    counts = report.counts
    return {
        "failed": len(report.failed),
        "refused": counts.get("refused", 0),
        "requests": len(report.outcomes),
        "before": report.summary(until=fired),
        "during": report.summary(since=fired, until=back),
        "restart_window_s": round(back - fired, 2),
    }


def median_of(runs: list[dict]) -> dict:
    def med(get: object) -> float:
        return round(statistics.median(get(run) for run in runs), 1)  # type: ignore[operator]

    return {
        "failed": med(lambda r: r["failed"]),
        "refused": med(lambda r: r["refused"]),
        "requests": med(lambda r: r["requests"]),
        "p50_before_ms": med(lambda r: r["before"].get("p50_ms", 0)),
        "p50_during_ms": med(lambda r: r["during"].get("p50_ms", 0)),
        "p99_during_ms": med(lambda r: r["during"].get("p99_ms", 0)),
        "max_during_ms": med(lambda r: r["during"].get("max_ms", 0)),
        "window_s": med(lambda r: r["restart_window_s"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the raw runs here")
    parser.add_argument("--servers", help="comma-separated, or all: the restart series instead")
    parser.add_argument("--restarts", type=int, default=20, help="per series")
    parser.add_argument("--strategies", default="stop_start,overlap")
    parser.add_argument("--via", default="watchdog", help="watchdog, direct, direct-quiesce")
    args = parser.parse_args()
    if args.servers:
        run_series(args)
        return
    raw: dict[str, list[dict]] = {}
    header = (
        f"{'restart':8} {'setup':10} {'failed':>6} {'refused':>7} {'p50 before':>10}"
        f" {'p50 during':>10} {'p99 during':>10} {'max during':>10} {'window':>7}"
    )
    print(
        f"{args.rate:g} req/s for {args.duration:g} s, new connection each; medians of"
        f" {args.runs}; latencies in ms\n{header}"
    )
    for kind in KINDS:
        for setup in SETUPS:
            runs = [one_run(setup, kind, args.rate, args.duration) for _ in range(args.runs)]
            raw[f"{kind}/{setup}"] = runs
            m = median_of(runs)
            print(
                f"{kind:8} {setup:10} {m['failed']:>6g} {m['refused']:>7g}"
                f" {m['p50_before_ms']:>10g} {m['p50_during_ms']:>10g}"
                f" {m['p99_during_ms']:>10g} {m['max_during_ms']:>10g} {m['window_s']:>6g}s",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))


def run_series(args: argparse.Namespace) -> None:
    servers = SERVERS if args.servers == "all" else tuple(args.servers.split(","))
    rows = []
    print(f"{args.rate:g} req/s of GET /work?ms=20, new connection each\n{HEADER}", flush=True)
    for server in servers:
        for strategy in args.strategies.split(","):
            for via in args.via.split(","):
                rows.append(series(server, strategy, via, args.restarts, args.rate))
                print(line(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
