"""The remedy steps: after every fact, the values it measured go to the remedy rules; what
they decide is carried out (a signal or a POST to the child, and its events), and how the
action went comes back as RemedyDone. Nothing here touches the restart rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchdog.core.bookkeeping import ControllerBase, Kill
from watchdog.core.commands import PostApp, SignalApp
from watchdog.core.facts import Fact, Probed, RemedyDone, Sampled
from watchdog.core.lifecycle import ChildState
from watchdog.core.report import MEMORY
from watchdog.core.rules.remedies import (
    REMEDIED,
    Attempt,
    RemedyDecision,
    RemedyRule,
    Send,
    Unchecked,
    Verdict,
    app_url,
    shown,
    threshold_of,
)

if TYPE_CHECKING:
    from watchdog.config import Config
    from watchdog.core.rules.levels import MetricLevel

S = ChildState
LEFT = {
    S.RESTARTING: "the child is being restarted",
    S.HANDOVER: "the child is being replaced",
    S.DRAINING: "the child is being replaced",
    S.STOPPING: "the child is being stopped",
    S.EXITED: "the child exited",
    S.BACKOFF: "the child exited",
    S.FATAL: "the child exited",
}


class RemedySteps(ControllerBase):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.remedies = {metric: RemedyRule(metric, self._ticket) for metric in REMEDIED}

    def _remedies_after(self, fact: Fact) -> None:
        """After each step: a remedy whose child stopped running goes unjudged, and each
        value the fact measured may send a remedy, or judge one sent before."""
        running = self._running()
        for rule in self.remedies.values():
            self._remedy_decided(rule.left(running, self._why_left(running)))
        if running is None:
            return
        for metric, at in self._fresh(fact):
            graded = self._graded(metric)
            if graded is not None:
                config = self.config.remedies.of(metric)
                self._remedy_decided(self.remedies[metric].measured(config, graded, at, running))

    def on_remedy_done(self, fact: RemedyDone) -> None:
        for rule in self.remedies.values():
            self._remedy_decided(rule.delivered(self.config.remedies.of(rule.metric), fact))

    def _running(self) -> int | None:
        """The generation of the child if it runs: answered healthy, not being stopped."""
        child = self.child
        if child is None or child.dead or self.exiting or self.state is not ChildState.RUNNING:
            return None
        # Stopped by the operator, it runs still while it is taken off the held socket.
        return child.generation if self.held is None else None

    def _why_left(self, running: int | None) -> str:
        if self.exiting:
            return "the watchdog is stopping"
        if self.held is not None:
            return "the app is stopped by the operator"
        if running is not None:
            return "a new child runs"
        plan = self.plan
        if plan is not None and plan.kind in (Kill.RESTART, Kill.OVER_CAP, Kill.FAILED_START):
            return "the child is being restarted"  # stopped, but to be started again
        return LEFT.get(self.state, f"the child is {self.state.value}")

    def _graded(self, metric: str) -> MetricLevel | None:
        rules = self.policy.resources
        return None if rules is None else getattr(rules, metric)

    def _fresh(self, fact: Fact) -> list[tuple[str, float]]:
        """The metrics `fact` gave a new value, the way the resource rules grade them."""
        started = self.policy.started_at
        if isinstance(fact, Sampled) and started is not None and fact.sample.at >= started:
            return [("memory", fact.sample.at), ("cpu", fact.sample.at)]
        if isinstance(fact, Probed) and self._counting(fact.generation):
            result = fact.result
            # Every counted probe grades the error rate (once min_probes are in); only one
            # answered or timed out grades the response time: a refusal says nothing of speed.
            fresh = [("error_rate", result.at)]
            if result.ok or result.timed_out:
                fresh.append(("response_time", result.at))
            return fresh
        return []

    # -- what the rules decided -----------------------------------------------------------

    def _remedy_decided(self, decisions: list[RemedyDecision]) -> None:
        for decision in decisions:
            match decision:
                case Send():
                    self._send_remedy(decision)
                case Verdict():
                    self._report_verdict(decision)
                case Unchecked(metric, attempt, reason):
                    message = f"{attempt.action} for {metric} not judged: {reason}"
                    event = "remedy_unchecked"
                    self._emit_remedy(event, metric, attempt, reason=reason, message=message)

    def _emit_remedy(
        self, event: str, metric: str, attempt: Attempt, level: str = "info", **fields: object
    ) -> None:
        """A remedy's event, in the health file (a memory one in the memory file too)."""
        self._emit(
            event,
            level=level,
            category="health",
            also=MEMORY if metric == "memory" else (),
            metric=metric,
            action=attempt.action,
            at_level=attempt.level.label,
            before=round(attempt.before, 3),
            **fields,
        )

    def _send_remedy(self, send: Send) -> None:
        attempt, metric, child = send.attempt, send.metric, self.child
        assert child is not None
        graded = self._graded(metric)
        assert graded is not None
        threshold = threshold_of(attempt.level, graded.warning, graded.critical)
        command: SignalApp | PostApp
        if send.signal is not None:
            command = SignalApp(attempt.generation, attempt.ticket, send.signal)
            target = f"{attempt.action} to pid {child.pid}"
        else:
            assert send.post is not None
            url = app_url(self.config.health.url, send.post)
            timeout = self.config.remedies.timeout
            command = PostApp(attempt.generation, attempt.ticket, url, timeout)
            target = f"POST {url}"
        before, limit = shown(metric, attempt.before), shown(metric, threshold)
        self._emit_remedy(
            "remedy_started",
            metric,
            attempt,
            threshold=round(threshold, 3),
            pid=child.pid,
            message=f"{metric} {before} reached {attempt.level.label} ({limit}): {target}",
        )
        self._do(command)

    def _report_verdict(self, verdict: Verdict) -> None:
        attempt, metric = verdict.attempt, verdict.metric
        before, level = shown(metric, attempt.before), attempt.level.label
        fields: dict[str, object] = {
            "after": None if verdict.after is None else round(verdict.after, 3)
        }
        if verdict.after is None or verdict.threshold is None:
            message = f"{attempt.action} for {metric} failed: {verdict.error}"
            fields["error"] = verdict.error
        else:
            after, threshold = shown(metric, verdict.after), shown(metric, verdict.threshold)
            outcome = "below" if verdict.worked else "still at or above"
            message = f"{metric} {before} -> {after} after {attempt.action}: {outcome} {level}"
            message += f" ({threshold})"
            fields["threshold"] = round(verdict.threshold, 3)
            if attempt.delivered is not None and verdict.at is not None:
                fields["measured_after"] = round(verdict.at - attempt.delivered, 3)
        event = "remedy_applied" if verdict.worked else "remedy_failed"
        level_logged = "info" if verdict.worked else "warning"
        self._emit_remedy(event, metric, attempt, level_logged, **fields, message=message)
