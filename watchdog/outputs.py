"""What outputs (alerts, metrics, sd_notify, the state file) receive: every event, as data.

The supervisor logs each event and hands the same event to every output. An output must
return at once (anything slow goes to a task of its own) and must not raise; the
supervisor survives one that does, but the output would miss events.
"""

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


class Output(Protocol):
    def on_event(self, event: Event) -> None: ...
