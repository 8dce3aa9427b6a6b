"""Talking to a running watchdog: prove which process it is, signal it, read its answer.

The state file belongs to the app's user, and these commands are often run as root: a pid
written there proves nothing, or the app's user could have root signal any process. The
one signalled is the holder of the app's lock (instancelock), running `watchdog run` with
the same config; the state file only carries the answer back.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from watchdog.process.environ import command_line
from watchdog.process.instancelock import flocks, lock_holder, open_lock_files

POLL = 0.05
SAME_PROCESS_TOLERANCE = 0.5  # seconds; create times are derived from clock ticks


class StateUnreadableError(Exception):
    """The state file exists but cannot be read (permissions, not JSON)."""


def read_state(path: Path) -> dict[str, Any] | None:
    """The state file's content; None when there is none. StateUnreadableError otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not JSON"
        raise StateUnreadableError(f"cannot read the state file {path}: {why}") from None
    if not isinstance(data, dict):
        raise StateUnreadableError(f"cannot read the state file {path}: not a JSON object")
    return data


def pid_is_ours(state: Mapping[str, Any]) -> bool:
    """Whether the state file's pid is still the watchdog that wrote it."""
    watchdog = state.get("watchdog") or {}
    pid, created = watchdog.get("pid"), watchdog.get("create_time")
    if not isinstance(pid, int) or not isinstance(created, int | float):
        return False
    try:
        process = psutil.Process(pid)
        return abs(process.create_time() - created) < SAME_PROCESS_TOLERANCE and (
            process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:
        return False


@dataclass(frozen=True, slots=True)
class Answer:
    """What the watchdog recorded about our request, or None if it did not answer in time."""

    outcome: str | None
    detail: Mapping[str, Any]


class NotRunningError(Exception):
    """No running watchdog owns this state file."""


class NotOursError(NotRunningError):
    """A process holds the lock, but it cannot be proven to be this app's watchdog."""


def _runs_config(words: list[str], cwd: Path, config: Path) -> bool:
    """Whether a command line is `watchdog run` with `config` (as -c/--config, or the default)."""
    for index, word in enumerate(words[:-1]):
        # `watchdog run`, `python -m watchdog run` and `python .../bin/watchdog run` alike.
        if Path(word).name == "watchdog" and words[index + 1] == "run":
            given = "watchdog.yaml"
            rest = words[index + 2 :]
            for position, option in enumerate(rest):
                if option in ("-c", "--config") and position + 1 < len(rest):
                    given = rest[position + 1]
                elif option.startswith("--config="):
                    given = option.removeprefix("--config=")
                elif option.startswith("-c") and len(option) > 2:
                    given = option[2:]
            with contextlib.suppress(OSError, RuntimeError):
                return (cwd / given).resolve() == config.resolve()
            return False
    return False


class ElsewhereError(NotRunningError):
    """A watchdog of this config file runs, but holds the lock an older version named."""

    def __init__(self, pid: int, lock: Path, wanted: Path) -> None:
        self.pid, self.lock = pid, lock
        super().__init__(
            f"the watchdog of this config runs as pid {pid}, but it read an older version of"
            f" the file: it holds {lock}, not {wanted} (state.dir or app.name changed)."
            " `watchdog reload` makes it read this one"
        )


def _runs(pid: int, config: Path) -> bool | None:
    """Whether `pid` runs `watchdog run` with `config`; None when that cannot be read."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = [w.decode("utf-8", "replace") for w in handle.read().split(b"\0") if w]
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None
    return _runs_config(words, cwd, config)


def proven_watchdog(lock: Path, config: Path) -> int:
    """The pid of the watchdog running `config`, proven by the lock it holds; else raises.

    ElsewhereError: no process holds this lock, but a `watchdog run` of the same config
    file holds another one (the file since moved its state.dir or renamed the app).
    """
    pid = lock_holder(lock) if lock.exists() else None
    if pid is None:
        for holder, _ in flocks():
            held = open_lock_files(holder)
            if held and _runs(holder, config):
                raise ElsewhereError(holder, held[0], lock)
        if not lock.exists():
            raise NotRunningError(f"the watchdog is not running: there is no lock file {lock}")
        raise NotRunningError(f"the watchdog is not running: no process holds {lock}")
    runs = _runs(pid, config)
    if runs is None:
        raise NotOursError(
            f"refused: pid {pid} holds {lock}, but its command line cannot be read"
        )
    if not runs:
        raise NotOursError(
            f"refused: pid {pid} holds {lock} but is not `watchdog run --config {config}`"
            f" (it runs: {command_line(pid)})"
        )
    return pid


def request(
    path: Path, signum: signal.Signals, timeout: float, *, lock: Path, config: Path
) -> Answer:
    """Signal the proven watchdog of `config` and wait for it to record an answer in `path`.

    A reload also reaches a watchdog that holds the lock of an older version of the file:
    reading this one is what moves it, and its answer then lands at `path`.
    """
    try:
        pid = proven_watchdog(lock, config)
    except ElsewhereError as elsewhere:
        if signum != signal.SIGHUP:
            raise
        pid = elsewhere.pid
    sent = time.time()
    try:
        os.kill(pid, signum)
    except PermissionError:
        raise NotRunningError(
            "not allowed to signal the watchdog: run this as root or as the user it runs as"
        ) from None
    return _wait(path, lambda control: _received(control) >= sent - 0.01, timeout)


def outcome(path: Path, first: Answer, timeout: float) -> Answer:
    """The final outcome of a request first answered `restarting` (None if none in time)."""
    received = _received(first.detail)
    return _wait(
        path,
        lambda control: _received(control) == received and control.get("outcome") != first.outcome,
        timeout,
    )


def _received(control: Mapping[str, Any]) -> float:
    received = control.get("received")
    return float(received) if isinstance(received, int | float) else float("-inf")


def _wait(path: Path, answered: Callable[[Mapping[str, Any]], bool], timeout: float) -> Answer:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(POLL)
        control: Mapping[str, Any] = {}
        with contextlib.suppress(StateUnreadableError):
            control = (read_state(path) or {}).get("last_control") or {}
        if answered(control):
            return Answer(control.get("outcome"), control)
    return Answer(None, {})
