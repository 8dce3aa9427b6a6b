"""One child's life: its start, its probes, samples and cap checks, its exit, and what the
policy decides on them."""

from __future__ import annotations

import shlex

from watchdog.core.bookkeeping import (
    ChildRecord,
    ControllerBase,
    FromNow,
    Kill,
)
from watchdog.core.commands import (
    CleanLogs,
    Spawn,
    StartProbes,
)
from watchdog.core.decisions import (
    PLANNED,
    Decision,
    FailedStart,
    Healthy,
    RecommendationWithdrawn,
    RecommendRestart,
    Restart,
)
from watchdog.core.facts import (
    Booted,
    CapCrossed,
    Exited,
    Probed,
    Sampled,
    Spawned,
    SpawnFailed,
    TimerFired,
)
from watchdog.core.lifecycle import ALIVE_STATES, ChildState, Trigger
from watchdog.core.observations import ProbeResult
from watchdog.core.report import MEMORY, report_level, report_probe, sample_record, trend_record
from watchdog.core.rules.baseline import Degraded, DegradedTooLong, Learned, Recovered
from watchdog.core.rules.levels import Level, LevelChanged
from watchdog.core.rules.resources import DiskCritical, MemoryTrend, OverCap


class ChildSteps(ControllerBase):
    def on_booted(self, fact: Booted) -> None:
        if self.generation == 0 and self.state is ChildState.STOPPED:
            self._spawn()

    def _spawn(self) -> None:
        if self.exiting:
            return  # a stop request came meanwhile: start nothing new
        if self.held is not None:
            self._hold()  # `watchdog stop` came meanwhile: the app stays down
            return
        self.previous_pid = self.child.pid if self.child else None
        self.generation += 1
        self._fire(Trigger.SPAWN)
        self.child = ChildRecord(self.generation, self._now, app=self.config.app)
        self._do(Spawn(self.generation))

    def on_spawned(self, fact: Spawned) -> None:
        if self._spawn_awaited(self.incoming, fact.generation):
            self._incoming_spawned(fact)
            return
        child = self.child
        if not self._spawn_awaited(child, fact.generation):
            return
        assert child is not None
        child.spawned(fact)
        self._emit(
            "child_started",
            pid=fact.pid,
            previous_pid=self.previous_pid,
            command=shlex.join(self.config.app.command),
        )
        self.policy.child_started(fact.at)
        self.planner.child_started(fact.at, fact.lot)
        self._do(StartProbes(child.generation, 0.0, self.config.health.startup_interval))

    def on_spawn_failed(self, fact: SpawnFailed) -> None:
        if self._spawn_awaited(self.incoming, fact.generation):
            self._incoming_failed(fact.error)
            return
        child = self.child
        if not self._spawn_awaited(child, fact.generation):
            return
        assert child is not None
        child.never_started = True
        self._emit("spawn_failed", level="error", error=fact.error)
        self._restart_outcome("restart_failed", detail=fact.error)
        self._fire(Trigger.EXIT)
        self._account(self.policy.on_failed_start(fact.error, fact.at))

    def _spawn_awaited(self, child: ChildRecord | None, generation: int) -> bool:
        """Whether `generation` is a child asked for and not yet heard of."""
        return (
            child is not None
            and child.generation == generation
            and child.pid is None
            and not child.never_started
        )

    def on_probed(self, fact: Probed) -> None:
        confirming = self.state is ChildState.RELOADING and self.reload_confirmed
        if not (self._counting(fact.generation) or (confirming and self._current(fact.generation))):
            return  # a probe of a child already let go of, or not yet watched
        decisions = self.policy.on_probe(fact.result)
        counted = self.state is ChildState.RUNNING
        report_probe(self._emit, fact.result, counted, self.policy.failures, self.config.health)
        self._decide(decisions)
        if counted and self.state is ChildState.RUNNING:
            self._against_the_baseline(fact.result)

    def on_sampled(self, fact: Sampled) -> None:
        if self._counting(self.generation):
            self.baseline.on_sample(fact.sample)
        record = sample_record(fact.sample, self.config.resources.cpu.per_core)
        record.update(self.baseline_record() or {})
        self._emit("resource_sample", category="performance", also=MEMORY, **record)
        self._decide(self.policy.on_sample(fact.sample))
        self._recycle_workers(fact.sample)

    def on_cap_crossed(self, fact: CapCrossed) -> None:
        # A hard cap stays hard while a reload's new workers boot beside the old ones.
        reloading = self.state is ChildState.RELOADING and self._current(fact.generation)
        if self._counting(fact.generation) or reloading:
            self._decide(self.policy.on_rss(fact.tree_rss, fact.at))

    def on_timer(self, fact: TimerFired) -> None:
        due = self.respawn_at is not None and self._now >= self.respawn_at
        if self.state is ChildState.BACKOFF and due:
            self.respawn_at = None
            self._spawn()
        self._decide(self.policy.on_tick(self._now))
        if fact.time_of_day is not None:
            self.planner.saw_the_clock(self._now, fact.time_of_day)
        self._planned_restart(fact.time_of_day)

    def _planned_restart(self, time_of_day: float | None) -> None:
        """A planned restart that is due, if the window (and the throttle) allow it now."""
        if self.state is not ChildState.RUNNING or self.exiting:
            return
        reason = self.planner.check(self._now, time_of_day)
        if reason is not None:
            self.planner.consume()
            self._emit("restart_planned", reason=reason)
            self._decide(self.policy.planned(reason, self._now))

    def _against_the_baseline(self, probe: ProbeResult) -> None:
        for finding in self.baseline.on_probe(probe):
            match finding:
                case Learned(median, p90, probes):
                    self._emit(
                        "baseline_learned",
                        category="performance",
                        latency_ms=round(median * 1000, 1),
                        p90_ms=round(p90 * 1000, 1),
                        probes=probes,
                    )
                case Degraded(baseline, current) | Recovered(baseline, current):
                    degraded = isinstance(finding, Degraded)
                    self._emit(
                        "latency_degraded" if degraded else "latency_recovered",
                        level="warning" if degraded else "info",
                        category="health",
                        baseline_ms=round(baseline * 1000, 1),
                        latency_ms=round(current * 1000, 1),
                        ratio=round(current / baseline, 2) if baseline else None,
                    )
                case DegradedTooLong(reason):
                    # At once when it is also sick by the guide's numbers; else in the window.
                    rules = self.policy.resources
                    urgent = rules is not None and rules.response_time.level is Level.CRITICAL
                    self.planner.degraded(reason, self._now, urgent)
                    self._planned_restart(None)

    def on_exited(self, fact: Exited) -> None:
        if self.incoming is not None and fact.generation == self.incoming.generation:
            self._incoming_exited(fact)
            return
        child = self.child
        if child is None or fact.generation != child.generation or child.dead:
            return
        child.exit, child.exit_text, child.left = fact.exit, fact.description, fact.left
        if self.state in ALIVE_STATES or self.state is ChildState.RELOADING:
            self._crashed(child)
        # Being killed, stopped or handed over: the step under way takes the exit into account.

    # -- what the policy decided ----------------------------------------------------------

    def _decide(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            self._carry_out(decision)

    def _carry_out(self, decision: Decision) -> None:
        # Stopping for good: no new kill is decided, whatever a late sample says.
        alive = self.state in ALIVE_STATES and not self.exiting and self.held is None
        reloading = self.state is ChildState.RELOADING and not self.exiting
        match decision:
            case Healthy(startup) if alive or reloading:
                self._healthy(startup)
                self._restart_for_a_changed_app()  # reloaded in place, with the old command
            case FailedStart(reason) if reloading:
                self._in_place_failed(f"its new workers were {reason}")
            case Restart(reason, source) if alive:
                self._kill(Kill.RESTART, reason, diagnose=source != PLANNED)
            case OverCap(reason) if alive or reloading:
                self._kill(Kill.OVER_CAP, reason)
            case FailedStart(reason) if alive:
                self._restart_outcome("restart_failed", detail=reason)
                self._kill(Kill.FAILED_START, reason)
            case RecommendRestart(reason, at):
                self._emit(
                    "RESTART_RECOMMENDED",
                    level="warning",
                    category="health",
                    reason=reason,
                    restart_at=FromNow(at - self._now, iso=True),
                    restart_in=round(at - self._now, 1),
                )
            case RecommendationWithdrawn(reason):
                self._emit("restart_recommendation_withdrawn", category="health", reason=reason)
            case LevelChanged():
                report_level(self._emit, decision)
            case MemoryTrend():
                self._emit("memory_trend", category="memory", **trend_record(decision))
            case DiskCritical(path, percent):
                self._emit(
                    "disk_critical",
                    level="error",
                    category="health",
                    path=path,
                    percent=percent,
                    action="log retention clean-up; no restart",
                )
                self._do(CleanLogs())

    def _healthy(self, startup: float) -> None:
        child = self.child
        assert child is not None
        self._fire(Trigger.HEALTHY)
        child.healthy = True
        self.baseline.child_healthy(self._now)
        downtime = None if self.down_since is None else self._now - self.down_since
        self.down_since = None
        self._emit(
            "child_healthy",
            pid=child.pid,
            startup=round(startup, 3),
            downtime=None if downtime is None else round(downtime, 3),
        )
        self._restart_outcome("restarted", pid=child.pid, startup=round(startup, 3))
        interval = self.config.health.interval
        self._do(StartProbes(child.generation, interval, interval))
