"""Many restarts in a row under load, per server: what each one loses (zero_downtime.py --servers).

One run is one server on a held socket, loaded at --rate requests a second (GET
/work?ms=20, each on a new loopback connection) for as long as --restarts restarts take,
each half a second after the previous one's old child is gone. `via`:
  watchdog        a real `watchdog run` with app.listen; SIGUSR1 restarts it
  direct          the bench holds the socket and restarts the server itself, the way the
                  watchdog does (overlap: new child accepting, then SIGTERM to the old
                  one's group; stop_start: SIGTERM, exit, then the new child)
  direct-quiesce  the same, but the old child is first taken off the socket with
                  watchdog.process.quiesce.stop_accepting
Every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml
from peers.base import events, free_port, wait_for

from tests.loadgen import Load, LoadReport
from tests.served import APPS, COMMANDS
from watchdog.process.heldsocket import accepting, socket_inode, with_socket
from watchdog.process.quiesce import stop_accepting
from watchdog.process.tree import tree_of

SERVERS = tuple(COMMANDS)
VIAS = ("watchdog", "direct", "direct-quiesce")
PATH = "/work?ms=20"
GAP = 0.5  # seconds between the end of one restart and the next
WAIT = 60.0
LONGEST_LOAD = 1800.0


def _config(command: list[str], port: int, strategy: str) -> dict:
    return {
        "app": {
            "name": "series",
            "command": command,
            "cwd": str(APPS),
            "listen": f"127.0.0.1:{port}",
            "stop_timeout": "10s",
        },
        "health": {
            "url": f"http://127.0.0.1:{port}/health",
            "interval": "1s",
            "timeout": "900ms",
            "startup_timeout": "30s",
            "startup_interval": "50ms",
        },
        "restart": {"min_interval": "100ms", "strategy": strategy},
        "logging": {"dir": "logs", "level": "info"},
    }


def start_watchdog(work: Path) -> subprocess.Popen:
    """`watchdog run` on `work`/watchdog.yaml, quiet: the bench reads its log file."""
    return subprocess.Popen(
        [sys.executable, "-m", "watchdog", "run", "--config", "watchdog.yaml"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _through_watchdog(command: list[str], strategy: str, restarts: int, rate: float) -> tuple:
    with tempfile.TemporaryDirectory(prefix="zd-series-") as folder:
        work, port = Path(folder), free_port()
        (work / "watchdog.yaml").write_text(yaml.safe_dump(_config(command, port, strategy)))
        log = work / "logs" / "series.log"

        def seen(name: str, count: int) -> None:
            wait_for(lambda: len(events(log, name)) >= count, WAIT, 0.02)

        watchdog = start_watchdog(work)
        try:
            seen("child_healthy", 1)
            load = Load(port, rate, LONGEST_LOAD, PATH).start()
            windows = []
            try:
                for done in range(1, restarts + 1):
                    time.sleep(GAP)
                    fired = time.monotonic()
                    watchdog.send_signal(signal.SIGUSR1)
                    seen("child_stopped", done)
                    seen("child_healthy", done + 1)
                    windows.append((fired, time.monotonic()))
                time.sleep(GAP)
            finally:
                load.stop()
            report = load.join(timeout=60)
            exited = len(events(log, "child_exited"))
        finally:
            watchdog.send_signal(signal.SIGTERM)
            watchdog.wait(60)
    return report, windows, exited


class _Direct:
    """The server on a socket the bench holds, restarted the way the watchdog does it."""

    def __init__(self, command: list[str], quiesce: bool) -> None:
        self.held = socket.create_server(("127.0.0.1", 0), backlog=2048)
        self.port = self.held.getsockname()[1]
        self.inode = socket_inode(self.held)
        self.command = tuple(part.replace("{fd}", "3") for part in command)
        self.quiesce = quiesce
        self.unquiesced = 0

    def spawn(self) -> subprocess.Popen:
        child = subprocess.Popen(
            with_socket(self.command, self.held.fileno(), "http"),
            pass_fds=(self.held.fileno(),),
            cwd=APPS,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: accepting(tree_of(child.pid), self.inode), WAIT, 0.02)
        return child

    def stop(self, child: subprocess.Popen) -> None:
        if self.quiesce:
            done = asyncio.run(stop_accepting(child.pid, self.inode, 1.0, time.monotonic))
            self.unquiesced += not done.paused or bool(done.problems)
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(WAIT)

    def restart(self, child: subprocess.Popen, strategy: str) -> subprocess.Popen:
        if strategy == "overlap":
            new = self.spawn()
            self.stop(child)
            return new
        self.stop(child)
        return self.spawn()


def _direct(command: list[str], strategy: str, restarts: int, rate: float, quiesce: bool) -> tuple:
    direct = _Direct(command, quiesce)
    child = direct.spawn()
    try:
        load = Load(direct.port, rate, LONGEST_LOAD, PATH).start()
        windows = []
        try:
            for _ in range(restarts):
                time.sleep(GAP)
                fired = time.monotonic()
                child = direct.restart(child, strategy)
                windows.append((fired, time.monotonic()))
            time.sleep(GAP)
        finally:
            load.stop()
        report = load.join(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        child.wait(WAIT)
        direct.held.close()
    return report, windows, direct.unquiesced


def series(server: str, strategy: str, via: str, restarts: int, rate: float) -> dict:
    """One run; `notes` counts what should not happen: a child that died on its own
    (watchdog), a restart whose old child could not be taken off the socket (quiesce)."""
    command = COMMANDS[server]
    if via == "watchdog":
        report, windows, notes = _through_watchdog(command, strategy, restarts, rate)
    else:
        quiesce = via == "direct-quiesce"
        report, windows, notes = _direct(command, strategy, restarts, rate, quiesce)
    return {
        "server": server,
        "strategy": strategy,
        "via": via,
        **_tally(report, windows),
        "notes": notes,
    }


def _tally(report: LoadReport, windows: list[tuple[float, float]]) -> dict:
    """Each failure is counted against the last restart fired before its request was sent."""
    per_restart = Counter()
    for outcome in report.failed:
        fired_before = [i for i, (fired, _) in enumerate(windows) if fired <= outcome.sent_at]
        per_restart[fired_before[-1] if fired_before else -1] += 1
    in_windows = sum(
        any(fired <= o.sent_at <= done for fired, done in windows) for o in report.outcomes
    )
    return {
        "restarts": len(windows),
        "requests": len(report.outcomes),
        "failed": len(report.failed),
        "kinds": dict(Counter(o.result for o in report.failed)),
        "restarts_with_loss": len([i for i in per_restart if i >= 0]),
        "most_in_one_restart": max(per_restart.values(), default=0),
        "requests_in_windows": in_windows,
        "window_median_s": round(statistics.median(d - f for f, d in windows), 2),
    }


HEADER = (
    f"{'server':17} {'strategy':10} {'via':14} {'restarts':>8} {'requests':>8} {'failed':>6}"
    f" {'restarts w/ loss':>16} {'most in one':>11} {'in windows':>10} {'window':>7}  kinds"
)


def line(row: dict) -> str:
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(row["kinds"].items())) or "-"
    notes = f"; {row['notes']} crashed or not quiesced" if row["notes"] else ""
    return (
        f"{row['server']:17} {row['strategy']:10} {row['via']:14} {row['restarts']:>8}"
        f" {row['requests']:>8} {row['failed']:>6} {row['restarts_with_loss']:>16}"
        f" {row['most_in_one_restart']:>11} {row['requests_in_windows']:>10}"
        f" {row['window_median_s']:>6}s  {kinds}{notes}"
    )
