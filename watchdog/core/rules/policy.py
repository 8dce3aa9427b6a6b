"""Every rule that decides the child's fate: pure code fed with observations and `now`.

Nothing here sleeps, spawns, logs or reads a clock. The controller feeds it facts and acts
on the decisions it returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchdog.core.decisions import (
    FORECAST,
    OPERATOR,
    PLANNED,
    PROBES,
    Decision,
    FailedStart,
    GiveUp,
    Healthy,
    RecommendationWithdrawn,
    RecommendRestart,
    Respawn,
    Restart,
)
from watchdog.core.observations import ProbeResult, Sample
from watchdog.core.rules.crashes import CrashLoopDetector, RestartThrottle, backoff_delay
from watchdog.core.rules.levels import Level, LevelChanged, SustainedCritical
from watchdog.core.rules.resources import (
    MemoryTrend,
    OverCap,
    ResourceDecision,
    ResourceRules,
)
from watchdog.core.units import format_duration

if TYPE_CHECKING:
    from watchdog.config import HealthConfig, RestartConfig
    from watchdog.config.resources import ResourcesConfig

class Policy:
    """The rules for one supervised app, across all the children it goes through."""

    def __init__(
        self,
        health: HealthConfig,
        restart: RestartConfig,
        resources: ResourcesConfig | None = None,
    ) -> None:
        self.resources = ResourceRules(resources) if resources else None
        self.throttle = RestartThrottle(restart.min_interval)
        self.crash_loop = CrashLoopDetector(
            restart.crash_loop.max_crashes, restart.crash_loop.window
        )
        self.health = health
        self.restart = restart
        self.crashes = 0  # consecutive, since the last child that stayed healthy
        self.failures = 0  # consecutive failed probes of the current child
        self.started_at: float | None = None
        self.healthy_since: float | None = None
        self.startup_expired = False
        # Throttled restarts by cause (probes, a metric, the forecast, the operator): one
        # cause clearing withdraws its own, never another's.
        self.pendings: dict[str, RecommendRestart] = {}
        self.startup_error: str | None = None  # the last probe's, while the child boots

    def reconfigure(
        self, health: HealthConfig, restart: RestartConfig, resources: ResourcesConfig | None = None
    ) -> None:
        """New settings; the history (last restart, recent crashes) carries over."""
        self.health, self.restart = health, restart
        if resources is not None and self.resources is None:
            self.resources = ResourceRules(resources)
        elif resources is not None and self.resources is not None:
            self.resources.reconfigure(resources)
        self.throttle.min_interval = restart.min_interval
        self.crash_loop.max_crashes = restart.crash_loop.max_crashes
        self.crash_loop.window = restart.crash_loop.window

    def child_started(self, now: float) -> None:
        """A new child: every detector starts afresh, nothing of the old child counts."""
        self.started_at = now
        self.healthy_since = None
        self.startup_expired = False
        self.startup_error = None
        self.failures = 0
        self.pendings.clear()
        if self.resources:
            self.resources.child_started()

    def stopped_by_operator(self) -> None:
        """No child on purpose: no startup deadline, no throttled restart left to carry out,
        and no level of the tree now gone shown as the app's (status would grade it)."""
        self.started_at = self.healthy_since = None
        self.pendings.clear()
        if self.resources:
            self.resources.child_started()

    def started_by_operator(self) -> None:
        """A fresh start on purpose: the crashes before the stop no longer lengthen backoff."""
        self.crashes = 0

    def on_sample(self, sample: Sample) -> list[Decision]:
        """Grade a resource sample; a critical state that lasts becomes a throttled restart."""
        if self.resources is None:
            return []
        # A sample taken before the current child started measured the old tree (queued
        # while it was being stopped): it must not count against the new child.
        has_child = self.started_at is not None and sample.at >= self.started_at
        counting = has_child and self.healthy_since is not None
        found = self.resources.on_sample(sample, counting, has_child=has_child)
        decisions = self._resolve(found, sample.at)
        forecast_made = self.resources.trend_at == sample.at
        if self.restart.predictive and self.started_at is not None and forecast_made:
            trend = next((item for item in found if isinstance(item, MemoryTrend)), None)
            eta = trend.until_critical if trend else None
            if trend is not None and eta is not None and eta <= self.restart.predictive_horizon:
                reason = (
                    f"memory forecast: critical in {format_duration(round(eta))}"
                    f" at {trend.trend.mb_per_hour:.1f} MB/hour"
                )
                decisions += self._restart_due(reason, sample.at, FORECAST)
            else:
                decisions += self._withdraw(FORECAST)
        return decisions

    def on_rss(self, tree_rss: int, now: float) -> list[Decision]:
        """A quick RSS-only check of the tree: only the hard cap is judged on it."""
        if self.resources is None:
            return []
        over = self.resources.over_cap(tree_rss)
        return self._resolve([over], now) if over is not None else []

    def _resolve(self, found: list[ResourceDecision], now: float) -> list[Decision]:
        decisions: list[Decision] = []
        for item in found:
            if isinstance(item, SustainedCritical):
                if self.started_at is not None:
                    decisions += self._restart_due(item.reason, now, item.metric)
            elif isinstance(item, OverCap):
                # Not throttled: a leak past a hard cap is a death foretold, handled like
                # the crash it would become (backoff, crash loop), only gentler. Unless
                # this very sample already restarted the child: the new one is not over.
                if self.started_at is not None:
                    self.started_at = None
                    decisions.append(item)
            else:
                if isinstance(item, LevelChanged) and item.new is not Level.CRITICAL:
                    decisions += self._withdraw(item.metric)
                decisions.append(item)
        return decisions

    def on_probe(self, probe: ProbeResult) -> list[Decision]:
        if self.started_at is None:
            return []
        if self.resources and self.healthy_since is not None:
            found = self.resources.on_probe(probe, counting=True)
            return self._on_health_probe(probe) + self._resolve(found, probe.at)
        return self._on_health_probe(probe)

    def _on_health_probe(self, probe: ProbeResult) -> list[Decision]:
        if self.healthy_since is None:
            # Inside the startup window failures do not count: the app is still booting.
            if not probe.ok:
                self.startup_error = probe.error or f"status {probe.status}"
            if not probe.ok or self.startup_expired:
                return []
            self.healthy_since = probe.at
            return [Healthy(startup=probe.at - self.started_at)]
        if probe.ok:
            self.failures = 0
            # Only a recommendation made by the probes is undone by a good probe: an app
            # short of memory or CPU still answers.
            return self._withdraw(PROBES)
        self.failures += 1
        if self.failures < self.health.max_failures:
            return []
        last = probe.error or f"status {probe.status}"
        return self._restart_due(f"{self.failures} consecutive failed probes ({last})", probe.at)

    def on_tick(self, now: float) -> list[Decision]:
        decisions: list[Decision] = []
        startup_deadline = self._startup_deadline()
        if startup_deadline is not None and now >= startup_deadline:
            self.startup_expired = True
            window = format_duration(self.health.startup_timeout)
            last = self.startup_error
            seen = f"last probe: {last}" if last is not None else "no probe has finished"
            decisions.append(FailedStart(f"not healthy within startup_timeout ({window}); {seen}"))
        first = self.pending
        if first is not None and now >= first.at:
            decisions.extend(self._restart_due(first.reason, now, first.source))
        return decisions

    @property
    def pending(self) -> RecommendRestart | None:
        """The throttled restart that came first, if any: the one carried out when allowed."""
        return next(iter(self.pendings.values()), None)

    def next_deadline(self) -> float | None:
        """The next time `on_tick` has something to decide, if any."""
        deadlines = [self._startup_deadline(), self.pending.at if self.pending else None]
        return min((d for d in deadlines if d is not None), default=None)

    def restart_requested(self, reason: str, now: float, force: bool = True) -> list[Decision]:
        """An operator's restart. Forced: now, counting against the throttle. Otherwise it
        waits for the throttle like any other (and only a restart makes it go away)."""
        if force:
            return [self._restart_now(reason, now, OPERATOR)]
        return self._restart_due(reason, now, OPERATOR)

    def planned(self, reason: str, now: float) -> list[Decision]:
        """A planned restart (max_uptime, a degradation): through the throttle, its own cause."""
        return self._restart_due(reason, now, PLANNED)

    def restart_failed(self, started_at: float) -> None:
        """A restart that brought up no new child (an overlap whose new child never served):
        the old child is watched as before, from its own start. The throttle keeps the
        attempt, so a cause that persists is recommended again and retried when it allows."""
        self.started_at = started_at

    def on_crash(self, description: str, at: float) -> Respawn | GiveUp:
        """The child died by itself at `at`; `description` is its exit, for a person."""
        return self._crashed(description, at)

    def on_failed_start(self, reason: str, now: float) -> Respawn | GiveUp:
        return self._crashed(reason, now)

    def _startup_deadline(self) -> float | None:
        if self.started_at is None or self.healthy_since is not None or self.startup_expired:
            return None
        return self.started_at + self.health.startup_timeout

    def _restart_due(self, reason: str, now: float, source: str = PROBES) -> list[Decision]:
        allowed_at = self.throttle.allowed_at()
        if now >= allowed_at:
            return [self._restart_now(reason, now, source)]
        if source in self.pendings:
            return []  # recommended already; said once
        self.pendings[source] = RecommendRestart(reason, allowed_at, source)
        return [self.pendings[source]]

    def _withdraw(self, source: str) -> list[Decision]:
        """The failure behind a throttled restart from `source` has cleared."""
        withdrawn = self.pendings.pop(source, None)
        return [] if withdrawn is None else [RecommendationWithdrawn(withdrawn.reason)]

    def _restart_now(self, reason: str, now: float, source: str = PROBES) -> Restart:
        self.throttle.record(now)
        self.pendings.clear()
        if self._stayed_healthy(now):
            self.crashes = 0  # a planned end of a child that lasted: the next crash is a first
        self.started_at = None
        return Restart(reason, source)

    def _stayed_healthy(self, now: float) -> bool:
        return (
            self.healthy_since is not None
            and now - self.healthy_since >= self.restart.backoff_reset
        )

    def _crashed(self, reason: str, now: float) -> Respawn | GiveUp:
        if self._stayed_healthy(now):
            self.crashes = 0
        self.crashes += 1
        self.started_at = self.healthy_since = None
        self.pendings.clear()
        if self.crash_loop.record(now):
            loop = (
                f"{len(self.crash_loop)} crashes within"
                f" {format_duration(self.crash_loop.window)} (last: {reason})"
            )
            if self.restart.crash_loop.action == "exit":
                return GiveUp(loop)
            return Respawn(self.restart.backoff_max, self.crashes, crash_loop=True, reason=loop)
        delay = backoff_delay(self.crashes, self.restart.backoff_initial, self.restart.backoff_max)
        return Respawn(delay, self.crashes, reason=reason)
