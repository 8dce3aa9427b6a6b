"""The one bus: every event goes to every output, and the child's output lines go too.

An output subscribes with `on_event` (the logs, the state file, alerts, metrics, the
history, sd_notify) and/or `on_output` (the logs, the post-mortem ring of last lines).
An output must return at once (anything slow goes to a task of its own); one that raises
is reported and skipped for that event, never a reason for supervision to stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from watchdog.outputs.events import Event
from watchdog.outputs.logfiles import say


class Bus:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._subscribers: list[Any] = []

    def subscribe(self, output: Any) -> None:
        self._subscribers.append(output)

    def replace(self, old: Any, new: Any) -> None:
        self._subscribers[self._subscribers.index(old)] = new

    def emit(
        self, name: str, level: str = "info", category: str = "main", **fields: Any
    ) -> None:
        also = tuple(fields.pop("also", ()))
        self.publish(Event(name, level, category, fields, self._clock(), time.time(), also))

    def publish(self, event: Event) -> None:
        for output in self._subscribers:
            on_event = getattr(output, "on_event", None)
            if on_event is None:
                continue
            try:
                on_event(event)
            except Exception as exc:  # noqa: BLE001 - an output's bug must not stop supervision
                say(f"watchdog: {type(output).__name__} failed on {event.name}: {exc!r}")

    def output(self, generation: int, stream: str, lines: list[str]) -> None:
        """A batch of the child's output lines: the hot path, one call per read."""
        for output in self._subscribers:
            on_output = getattr(output, "on_output", None)
            if on_output is not None:
                on_output(generation, stream, lines)
