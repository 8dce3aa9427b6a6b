"""The app's process tree: find it, reap it, freeze it, stop it TERM -> grace -> KILL.

The watchdog is a child subreaper, so the tree is the child, its descendants, and the
orphans they left, which were re-parented to us; our own helpers (alert commands) stay in
the watchdog's session and are told apart by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

STOP_POLL = 0.02
KILL_WAIT = 5.0
SETTLE_WAIT = 2.0  # for the reaper to collect a stopped child's status, and its output
PR_SET_CHILD_SUBREAPER = 36

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def become_subreaper() -> bool:
    """Have orphans of the child's tree re-parented to us, so none escapes a stop."""
    return _libc is not None and _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def is_helper(pid: int) -> bool:
    """Whether `pid` is one of the watchdog's own helpers (an alert command), not the app's.

    Helpers stay in the watchdog's session (in a process group of their own); the app is
    started in a new session, and nothing it starts can ever join ours. So the session
    tells them apart from the first instant after fork, with no pid to register.
    """
    try:
        return os.getsid(pid) == os.getsid(0)
    except OSError:
        return False


def reap_all() -> list[tuple[int, int]]:
    """Collect every ended child of the app's (ours or adopted orphans): (pid, wait status).

    Not waitpid(-1): that would also take the exit status of a helper from the asyncio
    watcher that is waiting for it.
    """
    reaped = []
    try:
        children = psutil.Process().children()
    except (psutil.Error, OSError):
        return reaped
    for child in children:
        if is_helper(child.pid):
            continue
        try:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            continue
        if pid:
            reaped.append((pid, status))
    return reaped


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def children_of(pid: int) -> list[int]:
    """`pid`'s own children (its workers, for a pre-fork server); [] once it is gone, or
    on a kernel without CONFIG_PROC_CHILDREN."""
    try:
        return _children_of(pid)
    except (OSError, ValueError):
        return []


def _children_of(pid: int) -> list[int]:
    """The kernel's own list of `pid`'s children, from each of its threads."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children", "rb") as children:
            found.extend(int(child) for child in children.read().split())
    return found


def _descendant_pids() -> list[int]:
    """Our descendants, walked down the kernel's children lists.

    psutil's children(recursive=True) reads the parent of every process on the host: 2.4 ms
    with 68 processes here, more on a busy server. The walk costs a few reads per process
    of the tree. Without /proc/<pid>/task/<tid>/children (a kernel built without
    CONFIG_PROC_CHILDREN), psutil it is.
    """
    try:
        return _walk(_children_of(os.getpid()))
    except FileNotFoundError:
        return [p.pid for p in psutil.Process().children(recursive=True)]


def _walk(pending: list[int]) -> list[int]:
    found = []
    while pending:
        pid = pending.pop()
        found.append(pid)
        with contextlib.suppress(OSError, ValueError):  # gone since: nothing below it
            pending.extend(_children_of(pid))
    return found


def app_pids() -> list[int]:
    """The pids of the app's whole tree (see app_processes); [] when /proc cannot be read."""
    try:
        return [pid for pid in _descendant_pids() if not is_helper(pid)]
    except (psutil.Error, OSError, ValueError):
        return []


def app_processes() -> list[psutil.Process]:
    """The app's whole tree, zombies included: every descendant that is not our helper.

    We are a subreaper with one child, so that is the child, its descendants, and the
    orphans they left, which were re-parented to us. Reading /proc may fail (EMFILE
    under an fd flood): then the tree is unknown for now, never a crash.
    """
    processes = []
    try:
        for pid in _descendant_pids():
            if not is_helper(pid):
                with contextlib.suppress(psutil.Error):
                    processes.append(psutil.Process(pid))
    except (psutil.Error, OSError, ValueError):
        return []
    return processes


def _descendants_but(spare: int | None = None, *more: int) -> list[psutil.Process]:
    live = [process for process in app_processes() if _alive(process)]
    spares = [pid for pid in (spare, *more) if pid is not None]
    if not spares:
        return live
    spared = set(_walk(list(spares)))
    return [p for p in live if p.pid not in spared and not _in_sessions(p.pid, spares)]


def left_outside(*spares: int) -> list[int]:
    """The pids of the app's processes outside the trees and sessions of `spares` (the
    children started since): what an earlier child left behind."""
    return [process.pid for process in _descendants_but(None, *spares)]


def tree_of(pid: int) -> list[int]:
    """`pid` and its descendants, from the kernel's children lists."""
    return _walk([pid])


def _in_sessions(pid: int, sessions: list[int]) -> bool:
    try:
        return os.getsid(pid) in sessions
    except OSError:
        return False


def freeze_tree() -> None:
    """SIGSTOP to the app's whole tree: it holds still (memory too) until stopped for good;
    stop_tree follows its stop signal with SIGCONT, so a frozen tree still stops gracefully."""
    for process in _descendants_but():
        _send(process, signal.SIGSTOP)


def _send(process: psutil.Process, signum: int) -> None:
    with contextlib.suppress(psutil.Error):
        process.send_signal(signum)


def _in_group(process: psutil.Process, pgid: int | None) -> bool:
    try:
        return pgid is not None and os.getpgid(process.pid) == pgid
    except OSError:
        return False


def _signal_group(pgid: int | None, signum: int, live: list[psutil.Process]) -> bool:
    # Once its leader is reaped and its last member gone, a group id can be reused by an
    # unrelated session: signal the group only while one of our own descendants is in it.
    if pgid is None or not any(_in_group(process, pgid) for process in live):
        return False
    try:
        os.killpg(pgid, signum)
    except OSError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class StopReport:
    """What stopping a tree took: how many got the stop signal, how many needed SIGKILL."""

    signalled: int
    killed: int
    survivors: int
    took: float


async def stop_tree(
    pgid: int | None,
    stop_signal: int,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    *,
    spare: int | None = None,
    later: Callable[[], list[int]] = list,
) -> StopReport:
    """Stop signal to the group and every descendant, wait `timeout`, then SIGKILL the rest.

    `spare`: a child whose tree and session are left alone (the new one, in an overlap).
    `later`: the pids of the children started after the one stopped, asked at each look:
    left alone too, even those started while this stop runs. A stop is never for a later
    child's tree, and the sweep of what a crashed child left can last its whole grace
    while the next child boots, serves, or hands over to another.
    """
    started = clock()
    signalled: dict[int, psutil.Process] = {}

    def to_stop() -> list[psutil.Process]:
        return _descendants_but(spare, *later())

    def signal_new(signum: int) -> list[psutil.Process]:
        live = to_stop()
        for process in live:
            if process.pid not in signalled:
                signalled[process.pid] = process
                _send(process, signum)
                _send(process, signal.SIGCONT)
        return live

    live = to_stop()
    if _signal_group(pgid, stop_signal, live):
        _signal_group(pgid, signal.SIGCONT, live)  # a stopped process must wake to see it
        # A second stop signal makes servers such as uvicorn skip their graceful drain.
        signalled.update((p.pid, p) for p in live if _in_group(p, pgid))
    live = signal_new(stop_signal)
    while live and clock() - started < timeout:
        await asyncio.sleep(STOP_POLL)
        live = signal_new(stop_signal)
    killed = len(live)
    kill_started = clock()
    while live and clock() - kill_started < KILL_WAIT:
        _signal_group(pgid, signal.SIGKILL, live)
        for process in live:
            _send(process, signal.SIGKILL)
        await asyncio.sleep(STOP_POLL)
        live = to_stop()
    return StopReport(len(signalled), killed, len(live), clock() - started)
