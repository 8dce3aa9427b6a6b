"""Processes an earlier watchdog of the same app left running, found by the mark every child
carries, and stopped before a new child starts.

A watchdog killed with SIGKILL takes its direct child along (parent-death signal), but not
the child's workers: they live on, keep the port, and would make every new child die of
"address already in use". Each child is started with a mark in its environment
(WATCHDOG_INSTANCE=<name>@<config file>), which its whole tree
inherits; whatever carries the mark of this instance and is not ours now is a leftover.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from watchdog.process.environ import MARK, command_line

POLL = 0.05


def instance_mark(app_name: str, config_file: Path) -> str:
    """The app's name and the config file's path: what a reload cannot change, and what
    the next watchdog of the same app (started with the same file) knows at once."""
    return f"{app_name}@{config_file}"


def _ancestors() -> set[int]:
    """Our pid and our ancestors': a watchdog started from inside the app is no leftover."""
    found, pid = set(), os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            pid = psutil.Process(pid).ppid()
        except psutil.Error:
            break
    return found


def find_leftovers(mark: str) -> list[psutil.Process]:
    """Every process whose environment carries this instance's mark, but us and ours."""
    needle = f"{MARK}={mark}".encode()
    spared = _ancestors()
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) in spared:
                continue
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as environ:
                    variables = environ.read().split(b"\0")
                if needle not in variables:
                    continue
                process = psutil.Process(int(entry.name))
                if process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
            except (OSError, psutil.Error):
                continue  # gone, or another user's: not readable, so not provably ours
    return found


@dataclass(frozen=True, slots=True)
class LeftoverReport:
    stopped: list[tuple[int, str]]  # (pid, command line)
    killed: int
    survivors: int


async def stop_leftovers(
    processes: list[psutil.Process], stop_signal: int, timeout: float
) -> LeftoverReport:
    """Stop signal to each, wait up to `timeout`, SIGKILL what is left; psutil refuses to
    signal a pid that was reused since it was found."""
    described = [(process.pid, command_line(process.pid)) for process in processes]
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(stop_signal)
            process.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + timeout
    alive = _alive(processes)
    while alive and time.monotonic() < deadline:
        await asyncio.sleep(POLL)
        alive = _alive(alive)
    killed = len(alive)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    deadline = time.monotonic() + 2.0
    while alive and time.monotonic() < deadline:
        await asyncio.sleep(POLL)
        alive = _alive(alive)
    return LeftoverReport(described, killed, len(alive))


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    def running(process: psutil.Process) -> bool:
        try:
            return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    return [process for process in processes if running(process)]
