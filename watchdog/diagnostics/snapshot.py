"""The snapshot taken just before the watchdog kills a sick child: why was it sick?

One JSON file per restart under `diagnostics.directory`: the processes of the child's tree
(memory, threads, open files and connections, Python stacks), its last output lines and
the history that led to the decision. Bounded by `timeout`, since it holds up the restart;
never raises, since the watchdog must not die of it; never holds the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchdog.diagnostics import procinfo, pyspy
from watchdog.outputs.files import write_json_atomic

FORMAT = 1
DIR_MODE = 0o750
SUFFIX = ".json"
_NAME = r"(?P<stamp>\d{8}T\d{6}\.\d{3}Z)(?:-(?P<attempt>\d+))?-{app}-[a-z0-9-]+\.json"
_SLUG_DROP = re.compile(r"[^a-z0-9]+")
SLUG_LENGTH = 48


def slug(reason: str) -> str:
    """A reason as a file-name part: `health check failed 3x` -> `health-check-failed-3x`."""
    text = _SLUG_DROP.sub("-", reason.lower()).strip("-")[:SLUG_LENGTH].strip("-")
    return text or "restart"


def snapshot_name(at: datetime, app_name: str, reason: str, attempt: int = 1) -> str:
    utc = at.astimezone(UTC)
    stamp = f"{utc:%Y%m%dT%H%M%S}.{utc.microsecond // 1000:03d}Z"
    count = f"-{attempt}" if attempt > 1 else ""
    return f"{stamp}{count}-{app_name}-{slug(reason)}{SUFFIX}"


def _plain(value: Any) -> Any:
    """Caller's data as JSON-ready values (mapping proxies, tuples, dataclass-free)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _in_daemon_thread(function: Callable[[], None]) -> asyncio.Future[None]:
    """Run `function` in a thread of its own, awaitable.

    Not asyncio.to_thread: a read stuck in /proc (a process in D state) would then sit in
    the loop's default executor, which asyncio.run joins at exit, without a time limit on
    3.11; the watchdog could never stop. A daemon thread is simply left behind.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if future.done():  # given up on at the deadline
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    def work() -> None:
        error: BaseException | None = None
        try:
            function()
        except BaseException as exc:  # noqa: BLE001 - handed over to the awaiting side
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, error)

    threading.Thread(target=work, name="watchdog-diagnostics", daemon=True).start()
    return future


async def _read_tree(
    pids: Sequence[int], timeout: float, notes: list[str]
) -> tuple[list[dict[str, Any]], bool]:
    """Process records, and whether all were read before the deadline."""
    records: list[dict[str, Any]] = []
    found: list[str] = []  # the thread's own notes, copied when it is done or given up on
    try:
        async with asyncio.timeout(max(timeout, 0.0)):
            await _in_daemon_thread(lambda: procinfo.read_processes(pids, records, found))
    except TimeoutError:
        notes.extend(list(found))
        notes.append(
            f"timed out after {timeout:.1f} s reading /proc: {len(records)} process(es) read"
        )
        return list(records), False
    notes.extend(found)
    return records, True


async def _collect(
    pids: Sequence[int], timeout: float, py_spy: str | None, clock: Callable[[], float]
) -> tuple[list[dict[str, Any]], list[str], bool]:
    deadline = clock() + timeout
    notes: list[str] = []
    processes, complete = await _read_tree(pids, timeout, notes)
    python = [record["pid"] for record in processes if record.get("python")]
    if not complete or not python:
        return processes, notes, complete
    program = pyspy.find_py_spy(py_spy)
    if program is None:
        notes.append(pyspy.NOT_INSTALLED)
        return processes, notes, False
    stacks, late = await pyspy.dump_stacks(program, python, deadline - clock(), notes)
    if late:
        shown = ", ".join(map(str, late))
        notes.append(f"timed out after {timeout:.1f} s: py-spy dump of {shown} killed")
    for record in processes:
        if record["pid"] in stacks:
            record["stacks"] = stacks[record["pid"]]
    return processes, notes, len(stacks) == len(python)


async def capture(
    pids: Sequence[int],
    *,
    reason: str,
    app_name: str,
    directory: Path,
    timeout: float,
    output_tail: Sequence[str],
    history: Sequence[Mapping[str, Any]],
    levels: Mapping[str, Any],
    trend: Mapping[str, Any] | None,
    exit_info: Mapping[str, Any] | None = None,
    py_spy: str | None,
    keep: int,
    max_age_days: int,
    clock: Callable[[], float] = time.monotonic,
) -> Path | None:
    """Write one snapshot of the child's tree; its path, or None if it could not be written."""
    started, at = clock(), datetime.now(UTC)
    try:
        processes, notes, complete = await _collect(pids, timeout, py_spy, clock)
    except Exception as exc:  # noqa: BLE001 - a snapshot never stops a restart
        processes, notes, complete = [], [f"snapshot failed: {type(exc).__name__}: {exc}"], False
    try:
        snapshot = {
            "app": app_name,  # first: prune() tells apps apart by it (see _written_for)
            "format": FORMAT,
            "reason": reason,
            "time": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "took": round(clock() - started, 3),
            "complete": complete,
            "notes": notes,
            "exit_info": _plain(exit_info),
            "processes": processes,
            "output_tail": list(output_tail),
            "history": _plain(list(history)),
            "levels": _plain(levels),
            "trend": _plain(trend),
        }
        path = _write(directory, at, app_name, reason, snapshot)
    except Exception:  # noqa: BLE001 - the caller logs that no file came of it
        return None
    prune(directory, app_name, keep, max_age_days)
    return path


def _write(directory: Path, at: datetime, app_name: str, reason: str, data: Any) -> Path:
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    attempt = 1
    while (path := directory / snapshot_name(at, app_name, reason, attempt)).exists():
        attempt += 1  # two snapshots within a millisecond: both are kept
    write_json_atomic(path, data)  # temp file + rename, 0640
    return path


def snapshots(directory: Path, app_name: str) -> list[Path]:
    """This app's snapshot files, oldest first (the names start with the UTC time)."""
    name = re.compile(_NAME.replace("{app}", re.escape(app_name)))
    found: list[tuple[str, int, Path]] = []
    with contextlib.suppress(OSError):
        for path in directory.glob(f"*-{glob.escape(app_name)}-*{SUFFIX}"):
            match = name.fullmatch(path.name)
            if match and _written_for(path, app_name):
                found.append((match["stamp"], int(match["attempt"] or 1), path))
    return [path for _, _, path in sorted(found)]


def _written_for(path: Path, app_name: str) -> bool:
    """Whether the file is this app's: by name alone, "api" would claim "api-2"'s files."""
    head = ('{"app":' + json.dumps(app_name) + ",").encode()
    try:
        with path.open("rb") as handle:
            return handle.read(len(head)) == head
    except OSError:
        return False


def prune(
    directory: Path, app_name: str, keep: int, max_age_days: int, now: float | None = None
) -> list[Path]:
    """Remove all but the `keep` newest snapshots, and any older than max_age_days."""
    cutoff = (time.time() if now is None else now) - max_age_days * 86400
    files = snapshots(directory, app_name)
    removed = []
    for index, path in enumerate(files):
        with contextlib.suppress(OSError):
            if index < len(files) - keep or path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
    return removed
