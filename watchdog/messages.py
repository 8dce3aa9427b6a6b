"""What reaches the supervisor's one queue: facts from timers, the reaper and signals."""

from __future__ import annotations

from dataclasses import dataclass

from watchdog.observations import ChildExit, ProbeResult, Sample


@dataclass(frozen=True, slots=True)
class Probed:
    generation: int
    result: ProbeResult


@dataclass(frozen=True, slots=True)
class Exited:
    generation: int
    exit: ChildExit


@dataclass(frozen=True, slots=True)
class Signalled:
    signum: int
    at: float


@dataclass(frozen=True, slots=True)
class Tick:
    pass


@dataclass(frozen=True, slots=True)
class Sampled:
    sample: Sample


@dataclass(frozen=True, slots=True)
class CapChecked:
    """A quick RSS-only check of the tree found it at or over max_rss."""

    generation: int
    tree_rss: int
    at: float


Message = Probed | Exited | Signalled | Tick | Sampled | CapChecked
