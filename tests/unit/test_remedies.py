"""The remedy rule on its own: when it sends, when it judges, what counts as worked."""

from __future__ import annotations

import itertools

import pytest

from watchdog.config.remedies import RemedyConfig
from watchdog.core.facts import RemedyDone
from watchdog.core.rules.levels import MetricLevel
from watchdog.core.rules.remedies import RemedyRule, Send, Unchecked, Verdict, app_url

GEN = 1


def remedy(level: str | None = "warning", **keys: object) -> RemedyConfig:
    values: dict[str, object] = {"signal": "USR1", "post": None, "cooldown": 60.0, "settle": 10.0}
    values.update(keys)
    return RemedyConfig(level=level, **values)  # type: ignore[arg-type]


def graded(value: float, at: float = 0.0) -> MetricLevel:
    metric = MetricLevel("memory", 50.0, 80.0, None, lambda level, value: "")
    metric.observe(value, at)
    return metric


def rule() -> RemedyRule:
    return RemedyRule("memory", itertools.count(1).__next__)


def sent_and_delivered(config: RemedyConfig, value: float = 60.0, at: float = 0.0) -> RemedyRule:
    memory = rule()
    [send] = memory.measured(config, graded(value), at, GEN)
    assert isinstance(send, Send)
    assert memory.delivered(config, RemedyDone(GEN, send.attempt.ticket, True, None, at)) == []
    return memory


@pytest.mark.parametrize(
    ("level", "value", "sends"),
    [
        ("warning", 49.9, False),
        ("warning", 50.0, True),  # at the threshold is at the level
        ("warning", 85.0, True),  # critical is at or above warning
        ("critical", 79.9, False),
        ("critical", 80.0, True),
        (None, 95.0, False),  # off
    ],
)
def test_a_remedy_is_sent_at_its_level_or_above(
    level: str | None, value: float, sends: bool
) -> None:
    decisions = rule().measured(remedy(level), graded(value), 0.0, GEN)
    assert bool(decisions) == sends
    assert all(isinstance(d, Send) and d.signal == "USR1" for d in decisions)


def test_a_remedy_with_no_action_sends_nothing() -> None:
    """`check` refuses it; a config made by hand still must not send an empty remedy."""
    assert rule().measured(remedy(signal=None), graded(90.0), 0.0, GEN) == []


def test_nothing_is_sent_to_a_child_that_does_not_run() -> None:
    assert rule().measured(remedy(), graded(90.0), 0.0, None) == []


def test_the_cooldown_counts_from_the_send_for_the_same_child_only() -> None:
    config = remedy(cooldown=60.0, settle=5.0)
    memory = sent_and_delivered(config)
    assert [type(d) for d in memory.measured(config, graded(60.0), 5.0, GEN)] == [Verdict]
    assert memory.measured(config, graded(60.0), 59.9, GEN) == []
    assert [type(d) for d in memory.measured(config, graded(60.0), 60.0, GEN)] == [Send]
    other = sent_and_delivered(config)
    other.measured(config, graded(60.0), 5.0, GEN)
    assert [type(d) for d in other.measured(config, graded(60.0), 6.0, GEN + 1)] == [Send]


@pytest.mark.parametrize(
    ("after", "worked"),
    [(49.9, True), (50.0, False), (59.0, False), (30.0, True)],
)
def test_it_worked_only_if_the_value_is_back_below_the_level_that_called_for_it(
    after: float, worked: bool
) -> None:
    config = remedy(settle=10.0)
    memory = sent_and_delivered(config)
    assert memory.measured(config, graded(after), 9.99, GEN) == []  # not settled yet
    [verdict] = memory.measured(config, graded(after), 10.0, GEN)
    assert isinstance(verdict, Verdict)
    assert (verdict.worked, verdict.after, verdict.threshold) == (worked, after, 50.0)
    assert verdict.attempt.before == 60.0


def test_a_remedy_sent_at_critical_works_once_below_critical() -> None:
    config = remedy("critical", settle=10.0)
    memory = sent_and_delivered(config, value=90.0)
    [verdict] = memory.measured(config, graded(70.0), 10.0, GEN)
    assert isinstance(verdict, Verdict)
    assert verdict.worked
    assert verdict.threshold == 80.0


def test_an_undelivered_remedy_fails_at_once_and_a_second_report_is_ignored() -> None:
    config = remedy()
    memory = rule()
    [send] = memory.measured(config, graded(60.0), 0.0, GEN)
    assert isinstance(send, Send)
    fact = RemedyDone(GEN, send.attempt.ticket, False, "the child is gone", 0.1)
    [verdict] = memory.delivered(config, fact)
    assert isinstance(verdict, Verdict)
    assert (verdict.worked, verdict.after, verdict.error) == (False, None, "the child is gone")
    assert memory.delivered(config, fact) == []


def test_a_remedy_whose_child_left_is_unchecked_once() -> None:
    memory = sent_and_delivered(remedy())
    assert memory.left(GEN, "") == []
    [unchecked] = memory.left(None, "the child exited")
    assert isinstance(unchecked, Unchecked)
    assert unchecked.reason == "the child exited"
    assert memory.left(None, "the child exited") == []


@pytest.mark.parametrize(
    ("health", "url"),
    [
        ("http://127.0.0.1:8000/health", "http://127.0.0.1:8000/admin/cleanup"),
        ("https://localhost/health?x=1", "https://localhost/admin/cleanup"),
        ("http://[::1]:9000/h", "http://[::1]:9000/admin/cleanup"),
        ("http://user:secret@127.0.0.1:8000/h", "http://127.0.0.1:8000/admin/cleanup"),
    ],
)
def test_a_post_goes_to_the_health_urls_scheme_host_and_port(health: str, url: str) -> None:
    assert app_url(health, "/admin/cleanup") == url
