"""The rules, fed with scripted observations on a fake clock: no sleeps, no processes."""

from __future__ import annotations

import pytest

from watchdog.config import CrashLoopConfig, HealthConfig, RestartConfig
from watchdog.core.decisions import (
    FailedStart,
    GiveUp,
    Healthy,
    RecommendationWithdrawn,
    RecommendRestart,
    Respawn,
    Restart,
)
from watchdog.core.observations import ChildExit, ProbeResult
from watchdog.core.rules.crashes import CrashLoopDetector, RestartThrottle, backoff_delay
from watchdog.core.rules.policy import Policy

HEALTH = HealthConfig(
    url="http://127.0.0.1:8000/health",
    interval=60.0,
    timeout=5.0,
    max_failures=3,
    startup_timeout=60.0,
    startup_interval=0.1,
    expect_status=(200,),
)
RESTART = RestartConfig(
    min_interval=300.0,
    backoff_initial=1.0,
    backoff_max=60.0,
    backoff_reset=60.0,
    crash_loop=CrashLoopConfig(max_crashes=5, window=600.0, action="exit"),
)


def ok(at: float) -> ProbeResult:
    return ProbeResult(ok=True, status=200, latency=0.01, error=None, at=at)


def failed(at: float) -> ProbeResult:
    return ProbeResult(ok=False, status=None, latency=5.0, error="no answer within 5s", at=at)


def crash(at: float) -> ChildExit:
    return ChildExit(pid=42, code=1, signal=None, at=at)


def healthy_policy(at: float = 0.0, restart: RestartConfig = RESTART) -> Policy:
    policy = Policy(HEALTH, restart)
    policy.child_started(at)
    assert policy.on_probe(ok(at + 1)) == [Healthy(startup=1.0)]
    return policy


class TestConsecutiveFailures:
    def test_restart_after_exactly_max_failures(self) -> None:
        """The third failure in a row, and not an earlier one, trips a restart."""
        policy = healthy_policy()
        assert policy.on_probe(failed(60)) == []
        assert policy.on_probe(failed(120)) == []
        [decision] = policy.on_probe(failed(180))
        assert isinstance(decision, Restart)
        assert "3 consecutive failed probes" in decision.reason
        assert "no answer within 5s" in decision.reason

    def test_success_resets_the_count(self) -> None:
        """A success between failures starts the count again."""
        policy = healthy_policy()
        policy.on_probe(failed(60))
        policy.on_probe(failed(120))
        assert policy.on_probe(ok(180)) == []
        assert policy.failures == 0
        assert policy.on_probe(failed(240)) == []
        assert policy.on_probe(failed(300)) == []
        assert isinstance(policy.on_probe(failed(360))[0], Restart)

    def test_status_is_named_when_there_is_no_error_text(self) -> None:
        """A failure with only a status code names the status in the reason."""
        policy = healthy_policy()
        bad = ProbeResult(ok=False, status=503, latency=0.1, error=None, at=60)
        policy.on_probe(bad)
        policy.on_probe(bad)
        [decision] = policy.on_probe(bad)
        assert "status 503" in decision.reason

    def test_probes_without_a_child_are_ignored(self) -> None:
        """A probe that lands while no child is running decides nothing."""
        policy = Policy(HEALTH, RESTART)
        assert policy.on_probe(failed(1)) == []


class TestStartupWindow:
    def test_failures_while_booting_do_not_count(self) -> None:
        """Refused probes before the first healthy answer are not failures."""
        policy = Policy(HEALTH, RESTART)
        policy.child_started(0)
        for second in range(1, 50):
            assert policy.on_probe(failed(second)) == []
        assert policy.on_probe(ok(50)) == [Healthy(startup=50.0)]
        assert policy.failures == 0

    def test_never_healthy_is_a_failed_start(self) -> None:
        """No healthy answer within startup_timeout is reported once, at the deadline."""
        policy = Policy(HEALTH, RESTART)
        policy.child_started(10)
        assert policy.next_deadline() == 70
        assert policy.on_tick(69.9) == []
        [decision] = policy.on_tick(70)
        assert isinstance(decision, FailedStart)
        assert "60s" in decision.reason or "1m" in decision.reason
        assert policy.on_tick(71) == []
        assert policy.next_deadline() is None

    def test_a_failed_start_says_what_the_last_probe_got(self) -> None:
        """The reason carries the last probe's error, so an operator sees why it never came up."""
        policy = Policy(HEALTH, RESTART)
        policy.child_started(0)
        policy.on_probe(failed(10))
        refused = ProbeResult(ok=False, status=None, latency=0.0, error="connection refused", at=20)
        policy.on_probe(refused)
        [decision] = policy.on_tick(60)
        assert decision == FailedStart(
            "not healthy within startup_timeout (1m); last probe: connection refused"
        )

    def test_a_failed_start_with_no_probe_back_says_so(self) -> None:
        policy = Policy(HEALTH, RESTART)
        policy.child_started(0)
        [decision] = policy.on_tick(60)
        assert decision == FailedStart(
            "not healthy within startup_timeout (1m); no probe has finished"
        )

    def test_a_failed_start_forgets_the_old_childs_probes(self) -> None:
        policy = Policy(HEALTH, RESTART)
        policy.child_started(0)
        policy.on_probe(failed(10))
        policy.child_started(20)
        [decision] = policy.on_tick(80)
        assert decision.reason.endswith("no probe has finished")

    def test_healthy_answer_after_the_deadline_does_not_count(self) -> None:
        """Once the start has failed, a late healthy answer does not revive that child."""
        policy = Policy(HEALTH, RESTART)
        policy.child_started(0)
        policy.on_tick(60)
        assert policy.on_probe(ok(61)) == []

    def test_new_child_starts_afresh(self) -> None:
        """Failures of the old child never count against the new one."""
        policy = healthy_policy()
        policy.on_probe(failed(60))
        policy.on_probe(failed(120))
        policy.child_started(130)
        assert policy.failures == 0
        assert policy.on_probe(failed(131)) == []  # inside the new startup window
        policy.on_probe(ok(132))
        assert policy.on_probe(failed(192)) == []
        assert policy.on_probe(failed(252)) == []


class TestThrottle:
    def test_second_restart_within_min_interval_is_recommended(self) -> None:
        """A restart due within min_interval of the last becomes RESTART_RECOMMENDED."""
        policy = healthy_policy()
        for at in (60, 120):
            policy.on_probe(failed(at))
        assert isinstance(policy.on_probe(failed(180))[0], Restart)
        policy.child_started(181)
        policy.on_probe(ok(182))
        policy.on_probe(failed(200))
        policy.on_probe(failed(210))
        [decision] = policy.on_probe(failed(220))
        assert isinstance(decision, RecommendRestart)
        assert decision.at == 180 + 300
        assert policy.next_deadline() == 480

    def test_a_failed_restart_leaves_the_old_child_watched_and_throttled(self) -> None:
        """An overlap whose new child never served: the old one's failures still count, and
        the next restart waits for the throttle (recommended, then carried out)."""
        policy = healthy_policy()
        for at in (60, 120):
            policy.on_probe(failed(at))
        assert isinstance(policy.on_probe(failed(180))[0], Restart)
        policy.restart_failed(started_at=0.0)
        [decision] = policy.on_probe(failed(240))
        assert isinstance(decision, RecommendRestart)
        assert decision.at == 180 + 300
        [again] = policy.on_tick(480)
        assert isinstance(again, Restart)

    def test_a_failed_restart_does_not_withdraw_a_healthy_childs_watch(self) -> None:
        """Without restart_failed the old child would go unwatched: probes decide nothing."""
        policy = healthy_policy()
        for at in (60, 120):
            policy.on_probe(failed(at))
        policy.on_probe(failed(180))
        assert policy.on_probe(failed(240)) == []  # no child known to the policy: unwatched
        policy.restart_failed(started_at=0.0)
        assert policy.on_probe(failed(250)) != []

    def test_recommendation_is_logged_once(self) -> None:
        """Further failures while throttled add no new recommendation."""
        policy = self._throttled()
        assert policy.on_probe(failed(230)) == []
        assert policy.on_probe(failed(240)) == []

    def test_carried_out_when_allowed_if_still_failing(self) -> None:
        """The recommended restart happens at the throttle's time if nothing recovered."""
        policy = self._throttled()
        assert policy.on_tick(479) == []
        [decision] = policy.on_tick(480)
        assert isinstance(decision, Restart)
        assert policy.throttle.last == 480

    def test_withdrawn_when_the_child_recovers(self) -> None:
        """A success before the throttle allows cancels the recommended restart."""
        policy = self._throttled()
        [decision] = policy.on_probe(ok(300))
        assert isinstance(decision, RecommendationWithdrawn)
        assert policy.on_tick(480) == []
        assert policy.next_deadline() is None

    def test_operator_restart_bypasses_but_counts(self) -> None:
        """A requested restart happens at once and starts the throttle window."""
        policy = healthy_policy()
        decisions = policy.restart_requested("requested by SIGUSR1", 100)
        assert decisions == [Restart("requested by SIGUSR1")]
        assert policy.throttle.allowed_at() == 400

    def test_unforced_operator_restart_waits_for_the_throttle(self) -> None:
        """`watchdog restart` without --force waits for the throttle, through good probes."""
        policy = healthy_policy()
        policy.restart_requested("first", 100)
        policy.child_started(101)
        policy.on_probe(ok(102))
        [recommended] = policy.restart_requested("requested by SIGUSR2", 150, force=False)
        assert isinstance(recommended, RecommendRestart)
        assert recommended.at == 400
        assert policy.restart_requested("again", 160, force=False) == []  # one is pending
        assert policy.on_probe(ok(200)) == []
        [restart] = policy.on_tick(400)
        assert restart == Restart("requested by SIGUSR2")

    def test_unforced_operator_restart_is_immediate_when_allowed(self) -> None:
        policy = healthy_policy()
        assert policy.restart_requested("requested by SIGUSR2", 100, force=False) == [
            Restart("requested by SIGUSR2")
        ]

    def test_throttle_rule(self) -> None:
        """The throttle allows anything before its first restart, then once per interval."""
        throttle = RestartThrottle(300)
        assert throttle.allowed_at() == float("-inf")
        throttle.record(10)
        assert throttle.allowed_at() == 310

    @staticmethod
    def _throttled() -> Policy:
        policy = healthy_policy()
        policy.restart_requested("first", 180)
        policy.child_started(181)
        policy.on_probe(ok(182))
        policy.on_probe(failed(200))
        policy.on_probe(failed(210))
        [decision] = policy.on_probe(failed(220))
        assert isinstance(decision, RecommendRestart)
        return policy


class TestCrashBackoff:
    @pytest.mark.parametrize(
        ("crashes", "expected"),
        [(1, 0.0), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (8, 60.0), (10_000, 60.0)],
    )
    def test_backoff_grows_and_is_capped(self, crashes: int, expected: float) -> None:
        """The first crash restarts at once, then the delay doubles up to backoff_max."""
        assert backoff_delay(crashes, 1.0, 60.0) == expected

    def test_consecutive_crashes_back_off(self) -> None:
        """Crashes in a row give growing delays."""
        restart = RestartConfig(
            min_interval=300.0,
            backoff_initial=1.0,
            backoff_max=60.0,
            backoff_reset=60.0,
            crash_loop=CrashLoopConfig(max_crashes=100, window=600.0, action="exit"),
        )
        policy = Policy(HEALTH, restart)
        delays = []
        now = 0.0
        for _ in range(5):
            policy.child_started(now)
            decision = policy.on_crash("exit code 1", now + 0.5)
            assert isinstance(decision, Respawn)
            delays.append(decision.delay)
            now += 0.5 + decision.delay
        assert delays == [0.0, 1.0, 2.0, 4.0, 8.0]

    def test_backoff_resets_after_staying_healthy(self) -> None:
        """A child healthy for backoff_reset makes its crash count as a first one."""
        policy = healthy_policy(0)
        policy.on_crash("exit code 1", 10)
        policy.child_started(10)
        policy.on_crash("exit code 1", 11)
        assert policy.crashes == 2
        policy.child_started(12)
        policy.on_probe(ok(13))
        decision = policy.on_crash("exit code 1", 13 + 60)
        assert isinstance(decision, Respawn)
        assert decision.crashes == 1
        assert decision.delay == 0.0

    def test_healthy_briefly_does_not_reset(self) -> None:
        """A child healthy for less than backoff_reset keeps the backoff growing."""
        policy = healthy_policy(0)
        policy.on_crash("exit code 1", 1)
        policy.child_started(1)
        policy.on_probe(ok(2))
        decision = policy.on_crash("exit code 1", 30)
        assert decision == Respawn(1.0, 2, reason="exit code 1")

    def test_failed_start_counts_as_a_crash(self) -> None:
        """A child that never became healthy is counted like a crash."""
        policy = Policy(HEALTH, RESTART)
        policy.child_started(0)
        policy.on_crash("exit code 1", 1)
        policy.child_started(1)
        decision = policy.on_failed_start("not healthy", 61)
        assert isinstance(decision, Respawn)
        assert decision.crashes == 2


class TestCrashLoop:
    def test_exit_after_max_crashes_in_window(self) -> None:
        """The fifth crash within ten minutes gives up when the action is exit."""
        policy = Policy(HEALTH, RESTART)
        decisions = []
        for minute in range(5):
            policy.child_started(minute * 60)
            decisions.append(policy.on_crash("exit code 1", minute * 60 + 1))
        assert all(isinstance(d, Respawn) for d in decisions[:4])
        assert isinstance(decisions[4], GiveUp)
        assert "5 crashes within 10m" in decisions[4].reason

    def test_crashes_spread_out_are_no_loop(self) -> None:
        """Crashes further apart than the window never make a loop."""
        policy = Policy(HEALTH, RESTART)
        for index in range(20):
            policy.child_started(index * 601)
            assert isinstance(policy.on_crash("exit code 1", index * 601 + 1), Respawn)

    def test_keep_trying_waits_backoff_max(self) -> None:
        """With keep_trying a loop is reported and retried at backoff_max."""
        restart = RestartConfig(
            min_interval=300.0,
            backoff_initial=1.0,
            backoff_max=60.0,
            backoff_reset=60.0,
            crash_loop=CrashLoopConfig(max_crashes=2, window=600.0, action="keep_trying"),
        )
        policy = Policy(HEALTH, restart)
        policy.child_started(0)
        policy.on_crash("exit code 1", 1)
        policy.child_started(1)
        decision = policy.on_crash("exit code 1", 2)
        assert isinstance(decision, Respawn)
        assert decision.crash_loop
        assert decision.delay == 60.0

    def test_window_slides(self) -> None:
        """Old crashes fall out of the window."""
        detector = CrashLoopDetector(max_crashes=3, window=10)
        assert not detector.record(0)
        assert not detector.record(5)
        assert not detector.record(10.5)  # the crash at 0 has left the window
        assert detector.record(11)


def test_reconfigure_keeps_history() -> None:
    """New settings apply at once while the last restart still throttles."""
    policy = healthy_policy()
    policy.restart_requested("first", 100)
    shorter = RestartConfig(
        min_interval=10.0,
        backoff_initial=1.0,
        backoff_max=60.0,
        backoff_reset=60.0,
        crash_loop=CrashLoopConfig(max_crashes=5, window=600.0, action="exit"),
    )
    policy.reconfigure(HEALTH, shorter)
    assert policy.throttle.allowed_at() == 110


def test_a_planned_restart_of_a_child_that_lasted_makes_the_next_crash_a_first() -> None:
    """The crash count is of consecutive crashes since a child that stayed healthy: a
    restart on purpose of one that did is no crash, and the count starts over."""
    policy = healthy_policy()
    policy.on_crash("exit code 1", 1.0)
    policy.child_started(1.0)
    policy.on_probe(ok(2.0))
    policy.on_crash("exit code 1", 3.0)  # a second crash in a row: backed off
    policy.child_started(4.0)
    policy.on_probe(ok(5.0))
    [restart] = policy.restart_requested("requested by SIGUSR1", 5.0 + 61.0)
    assert isinstance(restart, Restart)
    policy.child_started(67.0)
    policy.on_probe(ok(68.0))
    assert policy.on_crash("exit code 1", 69.0) == Respawn(0.0, 1, reason="exit code 1")
