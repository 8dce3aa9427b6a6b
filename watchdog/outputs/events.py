"""What outputs receive from the bus: every event, as data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Event:
    """One event as logged: `fields` are the logged fields, `at` the monotonic time."""

    name: str
    level: str = "info"
    category: str = "main"
    fields: Mapping[str, Any] = field(default_factory=dict)
    at: float = 0.0
    wall: float = 0.0  # time.time(), for what a person or another host reads
    also: tuple[str, ...] = ()  # more log categories it is copied to


class Output(Protocol):
    def on_event(self, event: Event) -> None: ...
