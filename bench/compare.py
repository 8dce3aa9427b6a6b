"""Benchmark: the watchdog side by side with the peers a Python user would pick instead.

Setup, once (compare.py installs nothing itself; a tool that is missing is reported as
"unavailable: why" and skipped):

    pip install -e '.[bench]'                 # supervisor 4 + superlance (httpok, memmon)
    apt-get install -y monit                  # Debian's monit 5; retry if dpkg is locked
    npm install --prefix bench/peers pm2      # PM2, local and git-ignored (or set PM2_BIN)

Run (loopback only; every process it starts is killed at the end, failure or not):

    python bench/compare.py [--runs 3] [--idle 10] [--quick]
                            [--tools watchdog,supervisord,monit,pm2]
                            [--figures own,crash,hang,leak,grandchildren,term] [--json FILE]

Every tool supervises tests/apps/fault_app.py with the same asks, as close as each allows
(each tool's `setup` in the JSON says what it got): probe /health every 1 s, timeout 1 s,
3 failures in a row; memory cap 200 MiB; SIGTERM then SIGKILL after 2 s. Figures, each the
median of --runs runs:

  own      RSS and CPU time of the tool's own processes over --idle seconds, app healthy
           (the watchdog also at the guide's pace: probe 60 s, sample 10 s)
  crash    SIGKILL the app from outside -> a new app answers /health (polled every 10 ms);
           the app's own boot time, measured without any tool, is shown apart
  hang     the app stops answering (--hang-after 3 s + a random 0-5 s; the moment the
           bench's 10 ms polls first go unanswered) -> a new app answers
  leak     20 MB/s leak (after a random 0-1 s --boot-delay): the app's RSS, read every
           10 ms, first over 200 MiB -> the old process gone; and the peak RSS seen
  grandchildren  an app that forked 3 grandchildren is SIGKILLed; once the tool restarted
           it (and 2 s more), how many of the 3 are still alive
  term     an app that ignores SIGTERM: the tool's restart command -> old process gone
           (the time includes the tool's CLI starting up)

Hang and leak start a fresh tool for every run, and every fault is moved by a random part
of the tools' check beats (see JITTER below), so that no tool is always lucky or unlucky.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
from peers import PEERS
from peers.base import (
    AGGRESSIVE,
    GUIDE_PACE,
    RUNS,
    Run,
    Settings,
    answers,
    cpu_seconds,
    gone,
    wait_for,
)

STEP = 0.01  # the bench's polling pace: 10 ms
SETTLE_AFTER_START = 2.0  # past supervisord's startsecs, PM2's min_uptime, monit's start check
SETTLE = 1.5  # between one fault and the next: each is a one-off of a healthy app
# Every tool checks on a beat of its own (monit's 1 s cycle, supervisord's 1 s loop and
# wall-clock 5 s ticks, PM2's 1 s worker, our 1 s probes and 100 ms cap checks), and a
# tool-made restart puts the next app at the same point of that beat. A fault repeated at a
# fixed delay would then fall at the same point every time: lucky or unlucky, never typical.
# So each run moves its fault by a fresh random part of the longest beat involved, spread
# over the runs (stratified), and hang and leak start a fresh tool for every run.
JITTER = 1.0  # crash, grandchildren, term: the 1 s beats
WARMUP = 3.0  # past start-up imports and first checks, before own cost is measured
RUN_TIMEOUT = 60.0  # any one wait in a run
HANG_AFTER = 3.0  # past every start-up grace (monit's 2 s); plus a random 0-5 s
HANG_SPREAD = 5.0
LEAK_MB_PER_S = 20
LEAK_BOOT_SPREAD = 1.0  # --boot-delay 0-1 s: under every tool's start-up grace
GRANDCHILD_GRACE = 2.0
FIGURES = ("own", "crash", "hang", "leak", "grandchildren", "term")


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def spread(run: int, runs: int, width: float) -> float:
    """A random point in the run-th of `runs` equal slices of [0, width)."""
    return width * (run + random.random()) / runs


def started(peer: ModuleType, app_args: list[str], settings: Settings, parent: Path) -> Any:
    workdir = Path(tempfile.mkdtemp(prefix=f"{peer.NAME}-", dir=parent))
    return peer.start(app_args, settings, workdir)


def serving(handle: Any, timeout: float = RUN_TIMEOUT) -> int:
    """The pid of the app once it answers /health."""
    return wait_for(lambda: answers(handle.url, 0.5) and handle.app_pid(), timeout, STEP)


def recovered(handle: Any, old: int, timeout: float = RUN_TIMEOUT) -> tuple[float, float]:
    """When `old` was first seen gone, then when a new app first answered (10 ms polls)."""
    gone_at = wait_for(lambda: gone(old) and time.monotonic(), timeout, STEP)
    healthy_at = wait_for(lambda: answers(handle.url, 0.5) and time.monotonic(), timeout, STEP)
    return gone_at, healthy_at


def own_cost(peer: ModuleType, settings: Settings, runs: int, idle: float, parent: Path) -> dict:
    handle = started(peer, [], settings, parent)
    samples = []
    try:
        time.sleep(WARMUP)
        for _ in range(runs):
            pids = handle.own_pids()
            before = {pid: cpu_seconds(pid) for pid in pids}
            time.sleep(idle)
            used, rss, counted = 0.0, 0, 0
            for pid in pids:
                with contextlib.suppress(psutil.Error):  # a passing helper, e.g. memmon's ps
                    used += cpu_seconds(pid) - before[pid]
                    rss += psutil.Process(pid).memory_info().rss
                    counted += 1
            samples.append(
                {
                    "rss_mib": round(rss / 2**20, 1),
                    "cpu_s_per_h": round(used / idle * 3600, 2),
                    "processes": counted,
                }
            )
    finally:
        handle.stop()
    return {
        "rss_mib": median([s["rss_mib"] for s in samples]),
        "cpu_s_per_h": median([s["cpu_s_per_h"] for s in samples]),
        "processes": samples[-1]["processes"],
        "samples": samples,
        "notes": handle.notes,
    }


def timed_runs(
    peer: ModuleType,
    app_args: list[str],
    settings: Settings,
    runs: int,
    parent: Path,
    *,
    once: Callable[[Any, int], float],
) -> list[float]:
    """`once(handle, app_pid)` on one started tool, `runs` times, each at a shifted moment;
    each returns the seconds it measured."""
    handle = started(peer, app_args, settings, parent)
    samples = []
    try:
        time.sleep(SETTLE_AFTER_START)
        for run in range(runs):
            old = serving(handle)
            time.sleep(spread(run, runs, JITTER))
            samples.append(round(once(handle, old), 3))
            time.sleep(SETTLE)
    finally:
        handle.stop()
    return samples


def crash(peer: ModuleType, settings: Settings, runs: int, parent: Path) -> dict:
    def once(handle: Any, old: int) -> float:
        killed = time.monotonic()
        os.kill(old, signal.SIGKILL)
        _, healthy_at = recovered(handle, old)
        return healthy_at - killed

    samples = timed_runs(peer, [], settings, runs, parent, once=once)
    return {"crash_to_healthy_s": median(samples), "samples": samples}


def hang_moment(url: str, limit: float) -> float:
    """When the app stopped answering: the send time of the first 10 ms poll left unanswered
    (the hang began after the poll before it, at most one step and one answer earlier)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        sent = time.monotonic()
        if not answers(url, 0.2):
            return sent
        time.sleep(max(0.0, sent + STEP - time.monotonic()))
    raise TimeoutError(f"the app did not hang within {limit}s")


def hang(peer: ModuleType, settings: Settings, runs: int, parent: Path) -> dict:
    to_healthy, to_gone, hang_after = [], [], []
    for run in range(runs):
        after = round(HANG_AFTER + spread(run, runs, HANG_SPREAD), 3)
        handle = started(peer, ["--hang-after", str(after)], settings, parent)
        try:
            pid = serving(handle)
            age = time.time() - psutil.Process(pid).create_time()
            if age > after - 0.5:
                raise RuntimeError(f"the app was {age:.1f}s old when watched: its hang unseen")
            hung_at = hang_moment(handle.url, after + 5)
            gone_at, healthy_at = recovered(handle, pid)
            to_healthy.append(round(healthy_at - hung_at, 3))
            to_gone.append(round(gone_at - hung_at, 3))
            hang_after.append(after)
        finally:
            handle.stop()
    return {
        "hang_to_healthy_s": median(to_healthy),
        "hang_to_old_gone_s": median(to_gone),
        "samples": to_healthy,
        "old_gone_samples": to_gone,
        "hang_after_s": hang_after,
    }


def wall_clock_phase(peer: ModuleType, run: int, runs: int) -> None:
    """For a tool whose checks fall on the wall clock (supervisord's TICK_5), start at a
    random point of that beat: its restarts cannot move the next app off the beat."""
    tick = getattr(peer, "WALL_CLOCK_TICK", None)
    if tick:
        target = spread(run, runs, tick)
        time.sleep((target - time.time() % tick) % tick)


def leak_once(handle: Any, cap: int) -> dict:
    """Read the app's RSS every 10 ms until it is gone: when it first read over `cap`, when
    it was gone, the peak seen."""
    process = psutil.Process(serving(handle))
    crossed, below, peak = None, None, 0
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        now = time.monotonic()
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                raise psutil.NoSuchProcess(process.pid)
            rss = process.memory_info().rss
        except psutil.NoSuchProcess:
            if crossed is None and below is not None:
                # Stopped between two reads, before one saw it over the cap: the time since
                # the last read under it is an upper bound.
                return {"cap_to_gone_s": now - below, "peak_mib": peak / 2**20, "seen": False}
            if crossed is None:
                raise RuntimeError("the leaking app was gone before its RSS was read") from None
            return {"cap_to_gone_s": now - crossed, "peak_mib": peak / 2**20, "seen": True}
        if rss >= cap and crossed is None:
            crossed = now
        elif rss < cap:
            below = now
        peak = max(peak, rss)
        time.sleep(max(0.0, now + STEP - time.monotonic()))
    raise TimeoutError(f"the leaking app was not stopped within {RUN_TIMEOUT}s")


def leak(peer: ModuleType, settings: Settings, runs: int, parent: Path) -> dict:
    cap = settings.max_rss_mib * 2**20
    found = []
    for run in range(runs):
        wall_clock_phase(peer, run, runs)
        boot = round(spread(run, runs, LEAK_BOOT_SPREAD), 3)
        app_args = ["--leak-mb-per-s", str(LEAK_MB_PER_S), "--boot-delay", str(boot)]
        handle = started(peer, app_args, settings, parent)
        try:
            found.append(leak_once(handle, cap))
        finally:
            handle.stop()
    unseen = sum(not f["seen"] for f in found)
    return {
        "cap_to_gone_s": median([f["cap_to_gone_s"] for f in found]),
        "peak_mib": median([f["peak_mib"] for f in found]),
        "samples": [round(f["cap_to_gone_s"], 3) for f in found],
        "peaks_mib": [round(f["peak_mib"], 1) for f in found],
        "notes": [
            f"{unseen} of {len(found)} runs: stopped within 10 ms of crossing, never read over "
            "the cap; their time is the upper bound (last read under the cap -> gone) and "
            "their peak the last read under it"
        ]
        if unseen
        else [],
    }


def grandchildren(peer: ModuleType, settings: Settings, runs: int, parent: Path) -> dict:
    pid_file = Path(tempfile.mkstemp(prefix=f"{peer.NAME}-", suffix=".pids", dir=parent)[1])
    handle = started(peer, ["--grandchildren", str(pid_file)], settings, parent)
    seen: set[int] = set()
    alive_counts = []

    def fresh() -> set[int] | None:
        pids = {int(line) for line in pid_file.read_text().split()} - seen
        return pids if len(pids) >= 3 else None

    try:
        time.sleep(SETTLE_AFTER_START)
        for run in range(runs):
            app = serving(handle)
            mine = wait_for(fresh, 10, STEP)
            seen |= mine
            time.sleep(spread(run, runs, JITTER))
            os.kill(app, signal.SIGKILL)
            recovered(handle, app)
            time.sleep(GRANDCHILD_GRACE)
            alive = [pid for pid in mine if not gone(pid)]
            alive_counts.append(len(alive))
            for pid in alive:  # ours to clean up, not the tool's any more
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(SETTLE)
    finally:
        handle.stop()
        for line in pid_file.read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line), signal.SIGKILL)
    return {"alive_of_3": median(alive_counts), "samples": alive_counts}


def term_ignored(peer: ModuleType, settings: Settings, runs: int, parent: Path) -> dict:
    def once(handle: Any, old: int) -> float:
        asked = time.monotonic()
        handle.restart()
        gone_at = wait_for(lambda: gone(old) and time.monotonic(), RUN_TIMEOUT, STEP)
        serving(handle)  # the next run starts from a serving app
        return gone_at - asked

    samples = timed_runs(peer, ["--ignore-term"], settings, runs, parent, once=once)
    return {"request_to_gone_s": median(samples), "samples": samples}


def app_boot(runs: int, parent: Path) -> dict:
    """The fault app's own start-up: spawn -> first answer, with no tool in between."""
    samples = []
    for _ in range(runs):
        run = Run(Path(tempfile.mkdtemp(prefix="boot-", dir=parent)))
        spawned = time.monotonic()
        process = run.launch(run.app_command([]), "app")
        try:
            answered = wait_for(lambda r=run: answers(r.url, 0.5) and time.monotonic(), 10, STEP)
            samples.append(round(answered - spawned, 3))
        finally:
            process.kill()
            process.wait(5)
    return {"boot_s": median(samples), "samples": samples}


def attempt(label: str, measure: Callable[[], dict]) -> dict:
    """One figure for one tool; a failure is recorded as such and the bench goes on."""
    print(f"  {label} ...", file=sys.stderr, flush=True)
    began = time.monotonic()
    try:
        result = measure()
    except Exception as exc:  # noqa: BLE001 - reported in the results, never hidden
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["took_s"] = round(time.monotonic() - began, 1)
    return result


def measure_tool(
    peer: ModuleType, figures: list[str], runs: int, idle: float, parent: Path
) -> dict:
    setup = peer.setup(AGGRESSIVE)
    results: dict[str, Any] = {"setup": setup}
    if "own" in figures:
        results["own"] = attempt("own cost", lambda: own_cost(peer, AGGRESSIVE, runs, idle, parent))
        if peer.NAME == "watchdog":
            results["own_guide_pace"] = attempt(
                "own cost, guide pace", lambda: own_cost(peer, GUIDE_PACE, runs, idle, parent)
            )
    if "crash" in figures:
        results["crash"] = attempt("crash", lambda: crash(peer, AGGRESSIVE, runs, parent))
    if "hang" in figures:
        if setup["hang_floor_s"] is None:
            results["hang"] = {"unsupported": setup["hang_rule"]}
        else:
            results["hang"] = attempt("hang", lambda: hang(peer, AGGRESSIVE, runs, parent))
    if "leak" in figures:
        results["leak"] = attempt("leak", lambda: leak(peer, AGGRESSIVE, runs, parent))
    if "grandchildren" in figures:
        results["grandchildren"] = attempt(
            "grandchildren", lambda: grandchildren(peer, AGGRESSIVE, runs, parent)
        )
    if "term" in figures:
        results["term"] = attempt("term", lambda: term_ignored(peer, AGGRESSIVE, runs, parent))
    return results


# (label, figure, key, unit, decimals, ratio shown); lower is better for every one of them
ROWS = [
    ("own RSS, fastest checks (see setup)", "own", "rss_mib", "MiB", 1, True),
    ("own CPU, fastest checks (see setup)", "own", "cpu_s_per_h", "s/h", 1, True),
    ("own RSS, guide pace (60 s / 10 s)", "own_guide_pace", "rss_mib", "MiB", 1, True),
    ("own CPU, guide pace (60 s / 10 s)", "own_guide_pace", "cpu_s_per_h", "s/h", 1, True),
    ("crash -> healthy", "crash", "crash_to_healthy_s", "s", 3, True),
    ("hang -> healthy", "hang", "hang_to_healthy_s", "s", 3, True),
    ("hang -> old process gone", "hang", "hang_to_old_gone_s", "s", 3, True),
    ("hang detection floor (rule)", "setup", "hang_floor_s", "s", 3, False),
    ("hang detection ceiling (rule)", "setup", "hang_ceiling_s", "s", 3, False),
    ("leak: over cap -> old process gone", "leak", "cap_to_gone_s", "s", 3, True),
    ("leak: peak RSS", "leak", "peak_mib", "MiB", 1, True),
    ("grandchildren alive after crash restart (of 3)", "grandchildren", "alive_of_3", "", 0, False),
    ("SIGTERM ignored: restart request -> gone", "term", "request_to_gone_s", "s", 3, True),
]


def cell(results: dict | None, figure: str, key: str, unit: str, decimals: int) -> tuple[str, Any]:
    if results is None:
        return "unavailable", None
    found = results.get(figure)
    if found is None:
        return "-", None
    if "unsupported" in found:
        return "unsupported", None
    if "error" in found:
        return "error", None
    value = found.get(key)
    if value is None:
        return "-", None
    return f"{value:.{decimals}f} {unit}".strip(), value


def table(tools: dict[str, dict | None], boot: dict | None) -> str:
    peers = [name for name in tools if name != "watchdog"]
    head = ["figure", "watchdog"]
    for name in peers:
        head += [name, f"ours/{name}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, figure, key, unit, decimals, ratios in ROWS:
        ours_text, ours = cell(tools.get("watchdog"), figure, key, unit, decimals)
        row = [label, ours_text]
        for name in peers:
            text, value = cell(tools[name], figure, key, unit, decimals)
            ratio = f"{ours / value:.2f}" if ratios and ours is not None and value else "-"
            row += [text, ratio]
        lines.append("| " + " | ".join(row) + " |")
    if boot and boot.get("boot_s") is not None:
        lines.append(
            f"\nThe app's own boot (spawn -> first answer, no tool): {boot['boot_s']:g} s; "
            "every crash/hang -> healthy figure includes it once."
        )
    return "\n".join(lines)


def notes(tools: dict[str, dict | None], unavailable: dict[str, str]) -> str:
    out = [f"- {name}: unavailable: {why}" for name, why in unavailable.items()]
    for name, results in tools.items():
        if results is None:
            continue
        setup = results["setup"]
        out.append(
            f"- {name}: probe {setup['probe']}; memory {setup['memory']}; stop "
            f"{setup['stop']}; hang rule: {setup['hang_rule']}"
        )
        for figure, found in results.items():
            if not isinstance(found, dict) or figure == "setup":
                continue
            if "unsupported" in found:
                out.append(f"  - {figure}: unsupported: {found['unsupported']}")
            if "error" in found:
                out.append(f"  - {figure}: could not measure: {found['error']}")
            for note in found.get("notes", []):
                out.append(f"  - {figure}: {note}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median taken)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds per own-cost window")
    parser.add_argument(
        "--quick", action="store_true", help="1 run each, 5 s windows: a smoke check"
    )
    parser.add_argument("--tools", default=",".join(PEERS))
    parser.add_argument("--figures", default=",".join(FIGURES))
    parser.add_argument("--json", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    runs, idle = (1, 5.0) if args.quick else (args.runs, args.idle)
    names = [n.strip() for n in args.tools.split(",") if n.strip()]
    figures = [f.strip() for f in args.figures.split(",") if f.strip()]
    if unknown := [n for n in names if n not in PEERS] + [f for f in figures if f not in FIGURES]:
        parser.error(f"unknown tool or figure: {', '.join(unknown)}")
    # A SIGTERM (or Ctrl-C) ends the bench through its finally blocks: nothing stays running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    began = time.monotonic()
    tools: dict[str, dict | None] = {}
    unavailable: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="wdbench-") as tmp:
        parent = Path(tmp)
        try:
            print("app boot ...", file=sys.stderr, flush=True)
            boot = attempt("boot", lambda: app_boot(max(runs, 3), parent))
            for name in names:
                peer = PEERS[name]
                if why := peer.unavailable():
                    unavailable[name] = why
                    tools[name] = None
                    print(f"{name}: unavailable: {why}", file=sys.stderr, flush=True)
                    continue
                print(f"{name}:", file=sys.stderr, flush=True)
                tools[name] = measure_tool(peer, figures, runs, idle, parent)
        finally:
            for run in RUNS:
                run.cleanup()
    result = {
        "runs": runs,
        "idle_s": idle,
        "settings": asdict(AGGRESSIVE) | {"guide_pace": asdict(GUIDE_PACE)},
        "app_boot": boot,
        "unavailable": unavailable,
        "tools": tools,
        "took_s": round(time.monotonic() - began, 1),
    }
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    print()
    print(table(tools, boot))
    print()
    print(notes(tools, unavailable))


if __name__ == "__main__":
    main()
