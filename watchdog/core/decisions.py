"""What the policy decides: the records Policy returns and the controller acts on."""

from __future__ import annotations

from dataclasses import dataclass, field

from watchdog.core.rules.levels import LevelChanged
from watchdog.core.rules.resources import DiskCritical, MemoryTrend, OverCap

PROBES = "probes"
FORECAST = "forecast"
OPERATOR = "operator"
PLANNED = "planned"


@dataclass(frozen=True, slots=True)
class Healthy:
    """The child answered healthy for the first time since it started."""

    startup: float


@dataclass(frozen=True, slots=True)
class Restart:
    """Stop the live child now and start a new one."""

    reason: str
    # What made it due (a planned one takes no diagnostic snapshot); not part of what it is.
    source: str = field(default=PROBES, compare=False)


@dataclass(frozen=True, slots=True)
class RecommendRestart:
    """A restart is due but throttled; it happens at `at` if the failure persists."""

    reason: str
    at: float
    source: str = PROBES  # what must recover to withdraw it: the probes, or one metric


@dataclass(frozen=True, slots=True)
class RecommendationWithdrawn:
    """The failure behind a throttled restart cleared before the throttle allowed it."""

    reason: str


@dataclass(frozen=True, slots=True)
class FailedStart:
    """The child is alive but never answered healthy within the startup window."""

    reason: str


@dataclass(frozen=True, slots=True)
class Respawn:
    """Start a new child after `delay`; `crash_loop` says the loop rule fired but we go on."""

    delay: float
    crashes: int
    crash_loop: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop supervising: the child keeps dying and the config says to exit."""

    reason: str


Decision = (
    Healthy
    | Restart
    | RecommendRestart
    | RecommendationWithdrawn
    | FailedStart
    | LevelChanged
    | OverCap
    | MemoryTrend
    | DiskCritical
)
