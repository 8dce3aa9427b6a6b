"""What a person wants to know about each process of a sick child's tree, read from /proc.

Blocking reads (psutil, readlink): the snapshot runs this in a thread under its timeout.
The environment is never read, here or anywhere in a snapshot: it holds the app's secrets.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

FD_KINDS = ("socket", "pipe", "file", "anon", "other")
_FD_PREFIXES = {"socket:": "socket", "pipe:": "pipe", "anon_inode:": "anon"}


def tree(pids: Iterable[int]) -> list[int]:
    """The given pids, then their descendants, each once, skipping those already gone."""
    found: dict[int, None] = {}
    for pid in pids:
        found[pid] = None
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(pid).children(recursive=True):
                found[child.pid] = None
    return list(found)


def fd_kind(target: str) -> str:
    """The kind of an open file descriptor from its /proc/<pid>/fd link text."""
    for prefix, kind in _FD_PREFIXES.items():
        if target.startswith(prefix):
            return kind
    return "file" if target.startswith("/") else "other"


def fd_counts(pid: int, proc: Path = Path("/proc")) -> dict[str, int]:
    """Open descriptors of `pid` by kind; OSError when the directory cannot be listed."""
    directory = proc / str(pid) / "fd"
    counts = dict.fromkeys(FD_KINDS, 0)
    for name in os.listdir(directory):
        with contextlib.suppress(OSError):  # closed between the listing and the readlink
            counts[fd_kind(os.readlink(directory / name))] += 1
    return counts


def is_python(exe: str | None, cmdline: list[str]) -> bool:
    """Whether py-spy can read it: the interpreter's name, as run or as invoked."""
    names = [os.path.basename(exe or ""), os.path.basename(cmdline[0]) if cmdline else ""]
    return any("python" in name.lower() for name in names)


def _connections(process: psutil.Process) -> dict[str, int]:
    # psutil 6 renamed connections() to net_connections(); both exist in between.
    read = getattr(process, "net_connections", None) or process.connections
    return dict(sorted(Counter(connection.status for connection in read(kind="inet")).items()))


def read_process(pid: int, notes: list[str]) -> dict[str, Any] | None:
    """One process's record; None when it is gone. What cannot be read is None, and noted."""
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            record: dict[str, Any] = {
                "pid": pid,
                "ppid": process.ppid(),
                "name": process.name(),
                "cmdline": process.cmdline(),
                "status": process.status(),
                "rss": process.memory_info().rss,
                "threads": process.num_threads(),
            }
            times = process.cpu_times()
            record["cpu_times"] = {"user": times.user, "system": times.system}
            record["children"] = [child.pid for child in process.children()]
    except psutil.NoSuchProcess:
        notes.append(f"process {pid} was gone before it could be read")
        return None
    except psutil.Error as exc:
        notes.append(f"process {pid} could not be read: {type(exc).__name__}")
        return {"pid": pid}
    exe = _optional(process.exe, pid, "exe", notes)
    record["exe"] = exe
    record["python"] = is_python(exe, record["cmdline"])
    full = _optional(process.memory_full_info, pid, "uss", notes)
    record["uss"] = getattr(full, "uss", None)
    record["fds"] = _optional(lambda: fd_counts(pid), pid, "open files", notes)
    record["connections"] = _optional(lambda: _connections(process), pid, "connections", notes)
    return record


def _optional(read: Any, pid: int, what: str, notes: list[str]) -> Any:
    try:
        return read()
    except (psutil.Error, OSError) as exc:
        if not isinstance(exc, psutil.NoSuchProcess):
            notes.append(f"{what} of process {pid} unreadable: {type(exc).__name__}")
        return None


def read_processes(pids: Iterable[int], into: list[dict[str, Any]], notes: list[str]) -> None:
    """Records of the whole tree, appended to `into` one by one so a timeout keeps the first."""
    for pid in tree(pids):
        record = read_process(pid, notes)
        if record is not None:
            into.append(record)
