"""Talking to a running watchdog: find it from its state file, signal it, read its answer.

A pid in a state file may be stale (the watchdog died) or reused by another process: the
process must still have the create time the watchdog recorded, or it is not signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

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


def request(path: Path, signum: signal.Signals, timeout: float) -> Answer:
    """Signal the watchdog whose state file is `path` and wait for it to record an answer."""
    try:
        state = read_state(path)
    except StateUnreadableError as exc:
        raise NotRunningError(str(exc)) from None
    if state is None:
        raise NotRunningError(f"no state file at {path}: is the watchdog running?")
    if not (state.get("watchdog") or {}).get("running") or not pid_is_ours(state):
        pid = (state.get("watchdog") or {}).get("pid")
        raise NotRunningError(f"the watchdog that wrote {path} (pid {pid}) is not running")
    sent = time.time()
    try:
        os.kill(state["watchdog"]["pid"], signum)
    except PermissionError:
        raise NotRunningError(
            "not allowed to signal the watchdog: run this as root or as the user it runs as"
        ) from None
    deadline = time.monotonic() + timeout
    control: dict[str, Any] = {}
    while time.monotonic() < deadline:
        time.sleep(POLL)
        with contextlib.suppress(StateUnreadableError):
            control = (read_state(path) or {}).get("last_control") or {}
        received = control.get("received")
        if isinstance(received, int | float) and received >= sent - 0.01:
            return Answer(control.get("outcome"), control)
    return Answer(None, {})
