"""The state file `watchdog status` and the control commands read: how things stand, now.

Written atomically (temp file + rename, 0640) on the turn of the supervising loop that
brought news, and otherwise every REFRESH seconds, so that its age tells whether the loop
still turns. A routine probe or sample is not news: the last of them is at most REFRESH old.
What events tell (restarts, the last probe) is gathered here; what only the controller
knows (the child's state, levels, a pending restart) it passes to `write`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil

from watchdog import __version__
from watchdog.outputs.events import Event
from watchdog.outputs.files import write_json_atomic

FORMAT = 1
# Three refreshes fit in STALE_AFTER. Every 5 s, the rewrites were about a seventh of what
# the watchdog spent at the guide's pace (2.8 -> 2.4 s/h of CPU with 10 s).
REFRESH = 10.0
STALE_AFTER = 30.0  # several missed refreshes: the loop is hung, or the host is starved


def state_path(state_dir: Path, app_name: str) -> Path:
    return state_dir / f"{app_name}.state.json"


def _own_create_time() -> float | None:
    try:
        return psutil.Process().create_time()
    except psutil.Error:
        return None


class StateFile:
    """Keeps the state file current; a failing write is reported once, never raised."""

    def __init__(
        self,
        path: Path,
        app_name: str,
        report: Callable[..., None],
        wall: Callable[[], float] = time.time,
        stale_after: float = STALE_AFTER,
    ) -> None:
        self.path = path
        self._report = report
        self._wall = wall
        self._failing = False
        self.answer_waiting = False  # a control request's answer, not yet written
        self.news = True  # something beyond routine probes and samples, not yet written
        self._sampled = False
        self._state: dict[str, Any] = {
            "format": FORMAT,
            "app": app_name,
            "stale_after": stale_after,
            "watchdog": {
                "pid": os.getpid(),
                "create_time": _own_create_time(),
                "started": wall(),
                "version": __version__,
                "running": True,
                "exit_code": None,
                "controls": ["stop", "start"],  # the app requests it takes
            },
            "restarts": {"count": 0, "last_reason": None, "last_at": None},
            "last_probe": None,
            "last_control": None,
        }

    def on_event(self, event: Event) -> None:
        fields, when = event.fields, event.wall or self._wall()
        restarts = self._state["restarts"]
        self.news = self.news or self._is_news(event)
        match event.name:
            case "restart_triggered" | "child_failed_start" | "spawn_failed":
                restarts["last_reason"] = fields.get("reason") or fields.get("error")
                restarts["last_at"] = when
            case "child_exited":
                restarts["last_reason"] = f"exited: {fields.get('exit')}"
                restarts["last_at"] = when
            case "child_started" if fields.get("previous_pid") is not None:
                restarts["count"] += 1
            case "probe_ok" | "probe_failed" if fields.get("counted", True):
                self._state["last_probe"] = {
                    "ok": event.name == "probe_ok",
                    "status": fields.get("status"),
                    "latency": fields.get("latency"),
                    "error": fields.get("error"),
                    "consecutive_failures": fields.get("consecutive", 0),
                    "at": when,
                }

    def _is_news(self, event: Event) -> bool:
        """Whether `status` should see `event` at once: anything but one more healthy probe,
        a boot-time poll or a sample after the first."""
        match event.name:
            case "probe_ok":
                last = self._state["last_probe"]
                return last is None or not last["ok"]
            case "probe_failed":
                return bool(event.fields.get("counted", True))
            case "resource_sample":
                first, self._sampled = not self._sampled, True
                return first
        return True

    def control(self, signal_name: str, outcome: str, **detail: Any) -> None:
        """What became of a control request, for the command that sent it."""
        self._state["last_control"] = {
            "signal": signal_name,
            "received": self._wall(),
            "outcome": outcome,
            **detail,
        }
        self.answer_waiting = True

    def control_outcome(self, outcome: str, **detail: Any) -> None:
        """The end of a request first answered `restarting`: the same record (its `received`
        still identifies the request), with the outcome now final."""
        last = self._state.get("last_control")
        if last is None:
            return
        last.update(outcome=outcome, **detail)
        self.answer_waiting = True

    def stopped(self, exit_code: int) -> None:
        self._state["watchdog"].update(running=False, exit_code=exit_code)

    def write(self, live: Mapping[str, Any]) -> None:
        self._state.update(live)
        now = self._state["written"] = self._wall()
        watchdog, child = self._state["watchdog"], self._state.get("child") or {}
        watchdog["uptime"] = round(now - watchdog["started"], 1)
        if child.get("started") is not None and child.get("pid") is not None:
            child["uptime"] = round(now - child["started"], 1)
        self.answer_waiting = self.news = False
        try:
            write_json_atomic(self.path, self._state)
        except OSError as exc:
            if not self._failing:
                self._report(
                    "state_write_failed", level="error", path=str(self.path), error=str(exc)
                )
            self._failing = True
            return
        if self._failing:
            self._report("state_write_restored", path=str(self.path))
        self._failing = False
