"""What one run of bench/compressed_day.py measured: from the client's answers, from the
watchdog's JSON log, and how busy the host was meanwhile."""

from __future__ import annotations

import math
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peers.base import events

from tests.loadgen import LoadReport

if TYPE_CHECKING:
    import argparse

    from compressed_day import Scale

FRESH = 100  # the first answers of a run: the fresh app's latency
BIN = 600.0  # seconds of the real day per bin of the "degraded" figures


@dataclass(frozen=True)
class Host:
    """The host's CPU counters at a moment, to tell how busy it was since."""

    busy: int
    total: int

    @classmethod
    def now(cls) -> Host:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return cls(sum(fields) - idle, sum(fields))

    def since(self) -> dict[str, float]:
        later = Host.now()
        total = max(1, later.total - self.total)
        return {
            "busy_percent": round(100 * (later.busy - self.busy) / total, 1),
            "load_1m": round(os.getloadavg()[0], 2),
        }

    @classmethod
    def idle(cls, seconds: float) -> str:
        """How busy the host is while this bench runs nothing: the others' load."""
        before = cls.now()
        time.sleep(seconds)
        seen = before.since()
        return f"{seen['busy_percent']:g} % of the CPUs busy, load {seen['load_1m']:g}"


def _wall(event: dict) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def restart_kind(reason: str) -> str:
    if reason.startswith("planned: degraded"):
        return "degraded"
    if reason.startswith("planned: uptime"):
        return "max_uptime"
    if "consecutive failed probes" in reason:
        return "probes"
    if " critical for " in reason:
        return reason.split(" ", 1)[0]  # the metric: response_time, memory, ...
    return reason.split(":", 1)[0][:30]


def _client(report: LoadReport, started: float, s: Scale, degraded_at: float) -> dict:
    ok = [o.latency for o in report.outcomes if o.result == "ok"]
    fresh = statistics.median(ok[:FRESH]) if ok else math.nan
    width = s.t(BIN)
    bins: dict[int, list[float]] = {}
    for o in report.outcomes:
        # A failed request is worse than any slow one.
        bins.setdefault(int((o.sent_at - started) / width), []).append(
            o.latency if o.result == "ok" else math.inf
        )
    medians = [statistics.median(values) for values in bins.values()]
    summary = report.summary()
    return {
        "requests": len(report.outcomes),
        "failed": len(report.failed),
        "failed_kinds": dict(Counter(o.result for o in report.failed)),
        "p50_ms": summary.get("p50_ms"),
        "p99_ms": summary.get("p99_ms"),
        "fresh_p50_ms": round(1000 * fresh, 2),
        "degraded_share": round(sum(m > degraded_at * fresh for m in medians) / len(medians), 3),
        "sick_share": round(sum(m >= s.lat(2) for m in medians) / len(medians), 3),
        "bins": len(medians),
    }


def _watchdog(logs: Path, started_wall: float, s: Scale) -> dict:
    main, health, performance = (logs / f"day{end}.log" for end in ("", "_health", "_performance"))
    triggered = events(main, "restart_triggered")
    samples = events(performance, "resource_sample")
    learned = events(performance, "baseline_learned")
    first = min((_wall(e) for e in triggered), default=None)
    return {
        "restarts": len(triggered),
        "restart_kinds": dict(Counter(restart_kind(e["reason"]) for e in triggered)),
        "planned": len(events(main, "restart_planned")),
        "worker_recycles": len(events(main, "worker_recycled")),
        "reloaded_in_place": len(events(main, "child_reloaded")),
        "reload_unconfirmed": len(events(main, "child_reload_unconfirmed")),
        "stops": len(events(main, "child_stopping")),
        "crashes": len(events(main, "child_exited")),
        "recommended": len(events(health, "RESTART_RECOMMENDED")),
        "degradations": len(events(health, "latency_degraded")),
        "baselines_ms": [e["latency_ms"] for e in learned],
        "first_restart_h": None if first is None else round(s.hours(first - started_wall), 1),
        "peak_rss_mb": round(max((e["rss_bytes"] for e in samples), default=0) / 2**20, 1),
    }


def tally(
    report: LoadReport,
    logs: Path,
    started: tuple[float, float],
    s: Scale,
    args: argparse.Namespace,
) -> dict:
    """`started`: when the load began, monotonic and wall-clock."""
    return {**_client(report, started[0], s, args.degraded_at), **_watchdog(logs, started[1], s)}


HEADER = (
    f"{'server':17} {'scenario':13} {'requests':>8} {'failed':>6} {'fresh ms':>8} {'p50 ms':>7}"
    f" {'p99 ms':>7} {'p99 x':>5}"
    f" {'degraded':>8} {'sick':>5} {'restarts':>8} {'in place':>8} {'recycled':>8} {'first h':>7}"
    f" {'peak MiB':>8} {'busy':>5}  kinds"
)


def line(row: dict[str, Any]) -> str:
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(row["restart_kinds"].items())) or "-"
    failed = ", ".join(f"{n} {k}" for k, n in sorted(row["failed_kinds"].items()))
    first = "-" if row["first_restart_h"] is None else f"{row['first_restart_h']:g}"
    return (
        f"{row['server']:17} {row['scenario']:13} {row['requests']:>8} {row['failed']:>6}"
        f" {row['fresh_p50_ms']:>8} {row['p50_ms']:>7} {row['p99_ms']:>7}"
        f" {'-' if row['p99_x_healthy'] is None else row['p99_x_healthy']:>5}"
        f" {row['degraded_share']:>8.0%}"
        f" {row['sick_share']:>5.0%} {row['restarts']:>8} {row['reloaded_in_place']:>8}"
        f" {row['worker_recycles']:>8}"
        f" {first:>7} {row['peak_rss_mb']:>8} {row['host']['busy_percent']:>4g}%  {kinds}"
        + (f"; failed: {failed}" if failed else "")
    )


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over runs of one server and scenario (kinds: the first run's)."""

    def med(key: str) -> float:
        values = [r[key] for r in rows if r[key] is not None]
        if not values:
            return None  # type: ignore[return-value]
        middle = round(statistics.median(values), 3)
        return int(middle) if middle == int(middle) else middle

    keys = ("requests", "failed", "fresh_p50_ms", "p50_ms", "p99_ms", "p99_x_healthy",
            "degraded_share", "sick_share", "restarts", "reloaded_in_place", "worker_recycles",
            "first_restart_h", "peak_rss_mb")
    out = {**rows[0], **{key: med(key) for key in keys}, "scenario": rows[0]["scenario"] + "*"}
    out["host"] = {"busy_percent": statistics.median(r["host"]["busy_percent"] for r in rows)}
    return out
