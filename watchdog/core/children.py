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
from watchdog.core.levels import LevelChanged
from watchdog.core.lifecycle import ALIVE_STATES, ChildState, Trigger
from watchdog.core.report import MEMORY, report_level, report_probe, sample_record, trend_record
from watchdog.core.resources import DiskCritical, MemoryTrend, OverCap


class ChildSteps(ControllerBase):
    def on_booted(self, fact: Booted) -> None:
        if self.generation == 0 and self.state is ChildState.STOPPED:
            self._spawn()

    def _spawn(self) -> None:
        if self.exiting:
            return  # a stop request came meanwhile: start nothing new
        self.previous_pid = self.child.pid if self.child else None
        self.generation += 1
        self.app_changed_meanwhile = False  # this child starts with the config in force
        self._fire(Trigger.SPAWN)
        self.child = ChildRecord(self.generation, self._now)
        self._do(Spawn(self.generation))

    def on_spawned(self, fact: Spawned) -> None:
        if self._spawn_awaited(self.incoming, fact.generation):
            self._incoming_spawned(fact)
            return
        child = self.child
        if not self._spawn_awaited(child, fact.generation):
            return
        assert child is not None
        child.pid, child.started_at, child.started_wall = fact.pid, fact.at, fact.wall
        self._emit(
            "child_started",
            pid=fact.pid,
            previous_pid=self.previous_pid,
            command=shlex.join(self.config.app.command),
        )
        self.policy.child_started(fact.at)
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
        if not self._counting(fact.generation):
            return  # a probe of a child already let go of, or not yet watched
        decisions = self.policy.on_probe(fact.result)
        counted = self.state is ChildState.RUNNING
        report_probe(self._emit, fact.result, counted, self.policy.failures, self.config.health)
        self._decide(decisions)

    def on_sampled(self, fact: Sampled) -> None:
        record = sample_record(fact.sample, self.config.resources.cpu.per_core)
        self._emit("resource_sample", category="performance", also=MEMORY, **record)
        self._decide(self.policy.on_sample(fact.sample))
        self._recycle_workers(fact.sample)

    def on_cap_crossed(self, fact: CapCrossed) -> None:
        if self._counting(fact.generation):
            self._decide(self.policy.on_rss(fact.tree_rss, fact.at))

    def on_timer(self, fact: TimerFired) -> None:
        due = self.respawn_at is not None and self._now >= self.respawn_at
        if self.state is ChildState.BACKOFF and due:
            self.respawn_at = None
            self._spawn()
        self._decide(self.policy.on_tick(self._now))

    def on_exited(self, fact: Exited) -> None:
        if self.incoming is not None and fact.generation == self.incoming.generation:
            self._incoming_exited(fact)
            return
        child = self.child
        if child is None or fact.generation != child.generation or child.dead:
            return
        child.exit, child.exit_text = fact.exit, fact.description
        if self.state in ALIVE_STATES:
            self._crashed(child)
        # Being killed, stopped or handed over: the step under way takes the exit into account.

    # -- what the policy decided ----------------------------------------------------------

    def _decide(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            self._carry_out(decision)

    def _carry_out(self, decision: Decision) -> None:
        # Stopping for good: no new kill is decided, whatever a late sample says.
        alive = self.state in ALIVE_STATES and not self.exiting
        match decision:
            case Healthy(startup) if alive:
                self._healthy(startup)
            case Restart(reason) if alive:
                self._kill(Kill.RESTART, reason)
            case OverCap(reason) if alive:
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
