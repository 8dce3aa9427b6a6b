"""Benchmark: a day of uptime in a few minutes, with the guide's rules and with rejuvenation.

    python bench/compressed_day.py [--duration 120] [--rate 100] [--runs 1]
        [--servers gunicorn-gthread,gunicorn-uvicorn[,gunicorn-uvicorn-preload]]
        [--scenarios guide,rejuvenation,overlap] [--json day.json] [--quick]

The app ages with the work it does (tests/apps/ageing.py): each request a worker serves
makes its next answers slower (SLOWER_BY) and keeps some memory (LEAK_PER_REQUEST), so it
degrades with uptime under load, not with wall time. It is served by gunicorn (gthread, or
uvicorn's worker) on a socket the watchdog holds, loaded open-loop at --rate requests a
second on loopback (tests/loadgen.py), for --duration seconds.

Everything is compressed by the same factors for every scenario: the schedule's durations
(probe interval, sustains, min_interval, max_uptime, warm-up) by --scale (720: a day in
the default 120 s); latency levels (probe timeout, 2 s / 5 s, the
degradation floor) by --latency-scale (100), since loopback answers take milliseconds and
a probe's timeout must stay below its interval. The app is set to age so that, never
restarted, it would answer in the guide's critical time (5 s, scaled) after --sick-after
hours of (scaled) uptime.

Scenarios (SCENARIOS below; a new one is a function returning config sections):
  healthy       the guide's rules on an app that does not age: the baseline every other
                scenario's p99 is compared with (always run, first, for each server)
  guide         probe every 60 s, 3 failures, min_interval 5 m, response time 2 s / 5 s
  rejuvenation  the same, plus the degradation baseline (ratio 3), max_uptime 12 h (+1 h
                spread), restart.method signal (the server reloads in place) and
                max_worker_rss: the healthy run's largest worker plus the leak of
                --recycle-after hours, with worker_recycles_per_hour scaled
  overlap       rejuvenation with restart.strategy overlap instead of a reload in place
  uptime        the guide's rules plus max_uptime and signal only (not run by default)

Counted per run, from the client: requests, failed by kind, p50/p99, and the share of the
day "degraded" (10-minute bins, scaled, whose median answer took more than --degraded-at
times the fresh app's, the median of the first 100 answers) and "sick" (bins whose median
reached the guide's warning level, 2 s scaled); from the watchdog's log: restarts by
reason, how many were reloads in place, the first one's (scaled) hour, the tree's peak RSS.
Every loop is bounded in count and time; loopback only.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from day_figures import HEADER, Host, line, median_row, tally  # noqa: E402
from peers.base import events, free_port, wait_for  # noqa: E402
from restart_series import start_watchdog  # noqa: E402

from tests.loadgen import MAX_REQUESTS, Load  # noqa: E402 - the repo root must be on the path
from tests.served import APPS, COMMANDS  # noqa: E402

HOUR = 3600.0
WORKERS = 2  # both gunicorn commands in tests/served.py
SERVERS = {  # name -> (command, reloads in place on HUP)
    "gunicorn-gthread": (COMMANDS["gunicorn-gthread"], True),
    "gunicorn-uvicorn": (COMMANDS["gunicorn-uvicorn"], True),
}
# Not run by default: the app imported once by the master, so that a new worker is a fork,
# not a fresh import of FastAPI competing with the others for the CPU.
EXTRA_SERVERS = {
    "gunicorn-uvicorn-preload": ([*COMMANDS["gunicorn-uvicorn"][:-1], "--preload",
                                  COMMANDS["gunicorn-uvicorn"][-1]], True),
}
KNOWN = {**SERVERS, **EXTRA_SERVERS}
PATH = "/work"
WAIT = 60.0


@dataclass(frozen=True)
class Scale:
    """How real durations become bench ones: `t` for the schedule, `lat` for latencies."""

    time: float
    latency: float

    def t(self, seconds: float) -> float:
        return seconds / self.time

    def lat(self, seconds: float) -> float:
        return seconds / self.latency

    def hours(self, bench_seconds: float) -> float:
        return bench_seconds * self.time / HOUR


@dataclass(frozen=True)
class Setup:
    """What a scenario's config depends on besides the scale."""

    reloads: bool  # the server replaces its workers on HUP
    worker_cap: int | None  # bytes: max_worker_rss, from the healthy run's workers


def guide(s: Scale, setup: Setup) -> dict:
    """The in-app guide's rules: probe every minute, 3 failures, 5 minutes between
    restarts; the watchdog's own response-time levels and sustains, all scaled."""
    return {
        "health": {"interval": s.t(60), "timeout": s.lat(5), "max_failures": 3},
        "restart": {"min_interval": s.t(300)},
        "resources": {
            "response_time": {"warning": s.lat(2), "critical": s.lat(5), "sustain": s.t(300)},
            "memory": {"sustain": s.t(60)},
            "cpu": {"sustain": s.t(300)},
            "error_rate": {"sustain": s.t(300)},
            # Measured only (no ratio): the baseline the fresh app shows, scaled like (b)'s.
            "degradation": {"warmup": s.t(60)},
        },
    }


def uptime(s: Scale, setup: Setup) -> dict:
    config = guide(s, setup)
    config["restart"].update(max_uptime=s.t(12 * HOUR), max_uptime_jitter=s.t(HOUR))
    if setup.reloads:
        config["restart"]["method"] = "signal"
    return config


def rejuvenation(s: Scale, setup: Setup) -> dict:
    config = uptime(s, setup)
    if setup.worker_cap is not None:
        config["resources"]["memory"].update(
            max_worker_rss=setup.worker_cap,
            worker_recycles_per_hour=math.ceil(12 * s.time),  # the default 12, scaled
        )
    config["resources"]["degradation"] = {
        "ratio": 3,
        "floor": s.lat(0.05),
        "sustain": s.t(600),
        "warmup": s.t(60),
        "probes": 30,
        "window": 10,
    }
    return config


def rejuvenation_overlap(s: Scale, setup: Setup) -> dict:
    """Rejuvenation whose restarts start a whole new app beside the old one on the held
    socket, then drain the old one (taken off the socket first), instead of a reload."""
    config = rejuvenation(s, setup)
    config["restart"].update(method="stop", strategy="overlap")
    return config


SCENARIOS: dict[str, Callable[[Scale, Setup], dict]] = {
    "healthy": guide,
    "guide": guide,
    "rejuvenation": rejuvenation,
    "overlap": rejuvenation_overlap,
    "uptime": uptime,
}


def merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if both else value
    return out


def config(server: str, scenario: str, port: int, s: Scale, *, setup: Setup, app_env: dict) -> dict:
    command = KNOWN[server][0]
    base = {
        "app": {
            "name": "day",
            "command": command,
            "cwd": str(APPS),
            "listen": f"127.0.0.1:{port}",
            "stop_timeout": "10s",  # a stop takes real time: not scaled
            "env": app_env,
        },
        "health": {
            "url": f"http://127.0.0.1:{port}/health",
            "startup_timeout": "30s",  # a boot takes real time: not scaled
            "startup_interval": "50ms",
        },
        # Samples only for the peak RSS: a scaled 10 s (14 ms) would cost more than the app.
        "resources": {"interval": "250ms"},
        "logging": {"dir": "logs", "level": "info", "max_bytes": "500MB"},
    }
    return merged(base, SCENARIOS[scenario](s, setup))


def ageing_env(args: argparse.Namespace, s: Scale) -> dict[str, str]:
    """SLOWER_BY such that a worker never restarted reaches the guide's critical 5 s
    (scaled) after --sick-after hours, counting the probes among the requests it serves."""
    interval = s.t(60)
    per_worker = (args.rate + 1 / interval) / WORKERS
    served = per_worker * s.t(args.sick_after * HOUR)
    return {"SLOWER_BY": f"{s.lat(5) / served:.9f}", "LEAK_PER_REQUEST": str(args.leak_kb * 1024)}


def worker_cap(args: argparse.Namespace, s: Scale, largest_worker: int) -> int:
    """The healthy run's largest worker plus what one leaks in --recycle-after hours."""
    per_worker = (args.rate + 1 / s.t(60)) / WORKERS
    leaked = per_worker * s.t(args.recycle_after * HOUR) * args.leak_kb * 1024
    return int(largest_worker + leaked)


def largest_worker(watchdog: subprocess.Popen) -> int:
    """Bytes: the resident set of the largest of the app's workers (the main process's
    children), as the watchdog measures it."""
    sizes = [0]
    for main in psutil.Process(watchdog.pid).children():
        for worker in main.children():
            try:
                sizes.append(worker.memory_info().rss)
            except psutil.Error:
                continue  # gone since: the others count
    return max(sizes)


def one_run(
    server: str, scenario: str, args: argparse.Namespace, s: Scale, cap: int | None
) -> dict:
    with tempfile.TemporaryDirectory(prefix="day-") as folder:
        work, port = Path(folder), free_port()
        env = {} if scenario == "healthy" else ageing_env(args, s)
        setup = Setup(KNOWN[server][1], cap)
        (work / "watchdog.yaml").write_text(
            yaml.safe_dump(config(server, scenario, port, s, setup=setup, app_env=env))
        )
        logs = work / "logs"
        host = Host.now()
        watchdog = start_watchdog(work)
        try:
            wait_for(lambda: events(logs / "day.log", "child_healthy"), WAIT, 0.02)
            started = (time.monotonic(), time.time())
            load = Load(port, args.rate, args.duration, PATH).start()
            report = load.join(timeout=args.duration + 30)
            worker = largest_worker(watchdog)
        finally:
            watchdog.send_signal(signal.SIGTERM)
            try:
                watchdog.wait(60)
            except subprocess.TimeoutExpired:
                watchdog.kill()  # its child has a parent-death signal; workers follow it
                watchdog.wait(10)
        if args.logs:
            shutil.copytree(logs, args.logs / f"{server}-{scenario}-{int(time.time())}")
        return {
            "server": server,
            "scenario": scenario,
            **tally(report, logs, started, s, args),
            "host": host.since(),
            "slower_by_s": float(env.get("SLOWER_BY", 0)),
            "largest_worker_mb": round(worker / 2**20, 1),
            "max_worker_rss_mb": None if cap is None else round(cap / 2**20, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load: a day")
    parser.add_argument("--rate", type=float, default=100.0, help="requests a second")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--scenarios", default="guide,rejuvenation,overlap")
    parser.add_argument("--scale", type=float, default=720.0, help="schedule compression")
    parser.add_argument("--latency-scale", type=float, default=100.0)
    parser.add_argument("--sick-after", type=float, default=20.0, help="hours (scaled)")
    parser.add_argument("--leak-kb", type=int, default=50, help="per request")
    parser.add_argument(
        "--recycle-after", type=float, default=1.0, help="hours (scaled) of a worker's leak"
    )
    parser.add_argument("--degraded-at", type=float, default=3.0, help="x the fresh p50")
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--logs", type=Path, help="keep each run's watchdog logs in here")
    parser.add_argument("--quick", action="store_true", help="a quarter of the day: a smoke check")
    args = parser.parse_args()
    if args.quick:
        # A quarter of a day: an app that sickens in 4 h, so both scenarios have work.
        args.duration, args.sick_after = 30.0, 4.0
    s = Scale(args.scale, args.latency_scale)
    if s.lat(5) >= s.t(60):
        parser.error("the probe's timeout (5 s / --latency-scale) must be below its interval"
                     " (60 s / --scale)")
    if args.rate * args.duration > MAX_REQUESTS:
        parser.error(f"--rate x --duration is more than the load's bound of {MAX_REQUESTS}")
    servers = args.servers.split(",")
    # The healthy run is every other's baseline, and measures the workers for max_worker_rss.
    scenarios = ["healthy", *(n for n in args.scenarios.split(",") if n != "healthy")]
    for name in servers + scenarios:
        if name not in KNOWN and name not in SCENARIOS:
            parser.error(f"unknown server or scenario {name!r}")
    print(
        f"{args.rate:g} req/s of GET {PATH}, new connection each, for {args.duration:g} s ="
        f" {s.hours(args.duration):g} h; schedule /{s.time:g}, latency /{s.latency:g};"
        f" sick (5 s) after {args.sick_after:g} h unrestarted; host before: {Host.idle(5.0)}"
        f"\n{HEADER}",
        flush=True,
    )
    rows = []
    # Runs outermost and scenarios innermost: a change in the host's load falls on all.
    for _ in range(args.runs):
        for server in servers:
            healthy: dict | None = None
            for scenario in scenarios:
                cap = None if healthy is None else worker_cap(args, s, healthy["worker_bytes"])
                row = one_run(server, scenario, args, s, cap)
                healthy = healthy or {**row, "worker_bytes": int(row["largest_worker_mb"] * 2**20)}
                row["p99_x_healthy"] = _ratio(row["p99_ms"], healthy["p99_ms"])
                rows.append(row)
                print(line(row), flush=True)
    if args.runs > 1:
        for server in servers:
            for scenario in scenarios:
                same = [r for r in rows if (r["server"], r["scenario"]) == (server, scenario)]
                print(line(median_row(same)), flush=True)
    if args.json:
        setup = {"argv": sys.argv[1:], "scale": s.time, "latency_scale": s.latency}
        args.json.write_text(json.dumps({**setup, "runs": rows}, indent=2))


def _ratio(value: float | None, baseline: float | None) -> float | None:
    return None if not value or not baseline else round(value / baseline, 2)


if __name__ == "__main__":
    main()
