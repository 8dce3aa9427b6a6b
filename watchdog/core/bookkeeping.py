"""What the controller keeps between steps, and the small helpers every step uses.

The steps themselves live in steps/: children (one child's story), kills (snapshot, stop,
sweep), overlap (two children at once), reload (in place), requests (signals, operator
restarts, reloads, the stop), remedies and workers; controller.py puts them together
behind `step`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from watchdog.core.commands import Command, Emit
from watchdog.core.decisions import Decision, GiveUp, Respawn
from watchdog.core.facts import Exited, SnapshotTaken, Spawned, StopOutcome, Stopped
from watchdog.core.lifecycle import (
    ALIVE_STATES,
    SERVING_STATES,
    ChildState,
    Lifecycle,
    Trigger,
)
from watchdog.core.observations import ChildExit, Sample
from watchdog.core.rules.baseline import Baseline
from watchdog.core.rules.planned import Planner
from watchdog.core.rules.policy import Policy

if TYPE_CHECKING:
    from watchdog.config import AppConfig, Config
    from watchdog.core.steps.crashes import LeftBehind

EXIT_OK = 0
EXIT_INTERNAL_ERROR = 1
EXIT_CRASH_LOOP = 3


@dataclass(frozen=True, slots=True)
class FromNow:
    """A moment `seconds` from the step's `now`: the runtime writes it as wall-clock time,
    Unix seconds (or ISO 8601 with `iso`), since the controller reads no clock."""

    seconds: float
    iso: bool = False


@dataclass
class ChildRecord:
    """One child as the controller knows it."""

    generation: int
    started_at: float
    pid: int | None = None
    started_wall: float | None = None
    healthy: bool = False
    exit: ChildExit | None = None
    exit_text: str | None = None
    never_started: bool = False  # its command could not be started at all
    lot: float = 0.0  # where its planned restart falls in max_uptime_jitter
    left: int = 0  # processes it left running when it exited
    app: AppConfig | None = None  # the app section it was started with

    @property
    def dead(self) -> bool:
        return self.exit is not None

    def spawned(self, fact: Spawned) -> None:
        """Its process is there: what the shell started."""
        self.pid, self.started_at, self.started_wall, self.lot = (
            fact.pid, fact.at, fact.wall, fact.lot
        )  # fmt: skip


class Kill(Enum):
    """Why the current child is being ended, which says what comes after."""

    RESTART = "restart"  # a new child next (stop_start), or beside it (overlap)
    FAILED_START = "failed_start"  # counted like a crash: backoff, crash loop
    OVER_CAP = "over_cap"  # counted like a crash, too
    CRASH = "crash"  # it died by itself: sweep its orphans, then count it
    SHUTDOWN = "shutdown"  # the watchdog is stopping
    HOLD = "hold"  # `watchdog stop`: nothing starts until `watchdog start`


@dataclass
class Plan:
    kind: Kill
    reason: str
    ticket: int | None = None  # the snapshot awaited before acting, if any
    diagnose: bool = True  # a planned restart has nothing wrong to take a snapshot of


class ControllerBase:
    """State and the small helpers every step uses; the steps live in the mixins."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.policy = Policy(config.health, config.restart, config.resources)
        restart = config.restart
        self.planner = Planner(restart.max_uptime, restart.max_uptime_jitter, restart.window)
        self.baseline = Baseline(config.resources.degradation)
        self.lifecycle = Lifecycle()
        self.generation = 0
        self.child: ChildRecord | None = None
        self.incoming: ChildRecord | None = None  # an overlap's new child
        self.incoming_cancelled = False  # being stopped: its acceptance no longer counts
        self.previous_pid: int | None = None
        self.plan: Plan | None = None
        # A crash respawned past, its snapshot and sweep to come (steps/crashes.py), and
        # the crash count's answer to a crash, when it was asked at the exit already.
        self.left_behind: LeftBehind | None = None
        self.crash_decision: Respawn | GiveUp | None = None
        self.respawn_at: float | None = None
        self.down_since: float | None = None
        self.exit_code: int | None = None  # set once the watchdog is stopping
        self.restart_awaited = False  # an operator's restart answered "restarting"
        self.held: str | None = None  # why the app stays down (`watchdog stop`), if it does
        self.hold_awaited = False  # `watchdog stop` answered "stopping"
        self.reloading = False
        self.reload_again = False
        self.pending_config: Config | None = None  # read, being applied by the runtime
        self.fallback_reason = ""  # why the overlap's new child is being stopped
        self.finishing = False
        # The child being taken off the held socket, and the step that follows once it is.
        self.quiescing: tuple[int, Callable[[], None]] | None = None
        self.quiesce_warned = False  # problems with it are a warning once, then info
        self.reload_confirmed = False  # reloading in place: the new workers are there
        self.reload_sent_at = 0.0
        self._tickets = 0
        self._wake: float | None = None
        self._now = 0.0
        self._out: list[Command] = []

    @property
    def state(self) -> ChildState:
        return self.lifecycle.state

    @property
    def exiting(self) -> bool:
        return self.exit_code is not None

    def _fire(self, trigger: Trigger) -> None:
        self.lifecycle.fire(trigger)

    def _do(self, *commands: Command) -> None:
        self._out.extend(commands)

    def _emit(
        self, event: str, /, *, level: str = "info", category: str = "main", **fields: Any
    ) -> None:
        self._out.append(Emit(event, level, category, fields))

    def _ticket(self) -> int:
        self._tickets += 1
        return self._tickets

    def _current(self, generation: int | None) -> bool:
        """Whether a fact is about the current child (a stale one is ignored)."""
        return self.child is not None and generation == self.child.generation

    def _counting(self, generation: int) -> bool:
        """Whether the current child's probes and samples decide anything now."""
        return self._current(generation) and self.state in ALIVE_STATES

    def levels(self) -> dict[str, dict[str, Any]]:
        """Each graded metric's level and last value, for the state file and snapshots."""
        rules = self.policy.resources
        if rules is None:
            return {}
        metrics = [
            rules.memory,
            rules.cpu,
            rules.response_time,
            rules.error_rate,
            rules.host_memory,
            rules.host_cpu,
            *rules.disks.values(),
        ]
        return {
            m.metric: {"level": m.level.label, "value": m.value}
            for m in metrics
            if m.value is not None
        }

    def view(self) -> dict[str, Any]:
        """What only the controller knows, for the state file and systemd's status line."""
        child, serving = self.child, self.state in ALIVE_STATES | SERVING_STATES
        if self.state is ChildState.DRAINING and self.incoming is not None:
            child = self.incoming  # it serves; the old one only drains
        pending = self.policy.pending
        return {
            "child": {
                "state": self.state.value,
                "pid": child.pid if child and serving and not child.dead else None,
                "healthy": bool(child and child.healthy and serving and not child.dead),
                "started": child.started_wall if child else None,
            },
            "levels": self.levels(),
            "pending_restart": (
                {"reason": pending.reason, "at": FromNow(pending.at - self._now)}
                if pending
                else None
            ),
            "planned_restart": self._planned_view(),
            "baseline": self.baseline_record(),
        }

    def baseline_record(self) -> dict[str, Any] | None:
        """The child's own baseline beside what it does now, for samples and status."""
        learned, rss = self.baseline.learned, self.baseline.rss
        if learned is None and rss is None:
            return None
        current, ratio = self.baseline.current, self.baseline.ratio
        return {
            "latency_baseline_ms": None if learned is None else round(learned.median * 1000, 1),
            "latency_p90_ms": None if learned is None else round(learned.p90 * 1000, 1),
            "latency_ms": None if current is None else round(current * 1000, 1),
            "latency_ratio": None if ratio is None else round(ratio, 2),
            "rss_baseline_mb": None if rss is None else round(rss / 2**20, 1),
            "rss_baseline_bytes": rss,
        }

    def _planned_view(self) -> dict[str, Any] | None:
        due, at = self.planner.due, self.planner.expected_at()
        if due is None or at is None or self.state not in ALIVE_STATES:
            return None
        window = self.planner.window
        return {
            "reason": due.reason,
            "at": FromNow(at - self._now),
            "window": None if window is None else str(window),
        }

    def next_deadline(self) -> float | None:
        planned = self.planner.deadline() if self.state is ChildState.RUNNING else None
        deadlines = [self.policy.next_deadline(), self.respawn_at, planned]
        return min((d for d in deadlines if d is not None), default=None)

    # Steps that one mixin takes and another calls; each is defined by exactly one mixin.
    def _spawn(self) -> None:
        raise NotImplementedError

    def _stop_current(self, plan: Plan | None = None) -> None:
        raise NotImplementedError

    def _crashed(self, child: ChildRecord) -> None:
        raise NotImplementedError

    def _respawned_first(self, child: ChildRecord, exit_info: dict[str, object]) -> bool:
        raise NotImplementedError

    def _counted_crash(self, child: ChildRecord) -> Respawn | GiveUp:
        raise NotImplementedError

    def _take_snapshot(
        self, generation: int, reason: str, exit_info: dict[str, object] | None
    ) -> int:
        raise NotImplementedError

    def _left_behind_snapshot(self, fact: SnapshotTaken) -> bool:
        raise NotImplementedError

    def _left_behind_stopped(self, fact: Stopped) -> bool:
        raise NotImplementedError

    def _kill(self, kind: Kill, reason: str, *, diagnose: bool = True) -> None:
        raise NotImplementedError

    def _off_the_socket(self, child: ChildRecord, then: Callable[[], None]) -> None:
        raise NotImplementedError

    def _restart_for_a_changed_app(self) -> None:
        raise NotImplementedError

    def _reloads_in_place(self) -> bool:
        raise NotImplementedError

    def _reload_in_place(self) -> None:
        raise NotImplementedError

    def _in_place_failed(self, reason: str) -> None:
        raise NotImplementedError

    def _restart_the_configured_way(self) -> None:
        raise NotImplementedError

    def _account(self, decision: Respawn | GiveUp) -> None:
        raise NotImplementedError

    def _recycle_workers(self, sample: Sample) -> None:
        raise NotImplementedError

    def _workers_renewed(self) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _hold(self) -> None:
        raise NotImplementedError

    def _stop_requested(self) -> None:
        raise NotImplementedError

    def _start_requested(self) -> None:
        raise NotImplementedError

    def _restart_outcome(self, outcome: str, **detail: Any) -> None:
        raise NotImplementedError

    def _begin_overlap(self) -> None:
        raise NotImplementedError

    def _cancel_incoming(self, reason: str) -> None:
        raise NotImplementedError

    def _incoming_spawned(self, fact: Spawned) -> None:
        raise NotImplementedError

    def _incoming_failed(self, error: str) -> None:
        raise NotImplementedError

    def _incoming_exited(self, fact: Exited) -> None:
        raise NotImplementedError

    def _incoming_stopped(self, fact: Stopped) -> None:
        raise NotImplementedError

    def _handed_over(self) -> None:
        raise NotImplementedError

    def _shutdown(self, code: int) -> None:
        raise NotImplementedError

    def _stopped_everything(self) -> None:
        raise NotImplementedError

    def _report_exit(self, child: ChildRecord, **fields: object) -> None:
        raise NotImplementedError

    def _report_orphans(self, outcome: StopOutcome) -> None:
        raise NotImplementedError

    def _report_stopped(self, child: ChildRecord, fact: Stopped) -> None:
        raise NotImplementedError

    def _decide(self, decisions: list[Decision]) -> None:
        raise NotImplementedError
