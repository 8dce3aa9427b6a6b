"""Messages the schema made better: the other key named by its path, values as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from watchdog.config import ConfigError, parse

BASE = Path("/srv/messages-tests")


def problems_of(**sections: Any) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        parse({"app": {"command": ["x"]}, **sections}, BASE)
    return caught.value.problems


@pytest.mark.parametrize(
    ("resources", "problem"),
    [
        (
            {"cpu": {"warning": 97}},
            "resources.cpu.warning: expected less than resources.cpu.critical (95), got 97",
        ),
        (
            {"response_time": {"warning": "6s"}},
            "resources.response_time.warning: expected less than"
            " resources.response_time.critical (5s), got 6s",
        ),
        (
            {"host": {"memory": {"warning": "96%"}}},
            "resources.host.memory.warning: expected less than"
            " resources.host.memory.critical (95), got 96",
        ),
    ],
)
def test_levels_out_of_order_name_the_other_key_and_spell_the_value(
    resources: dict[str, Any], problem: str
) -> None:
    """A warning at or above critical names critical by its path; a latency reads 6s."""
    assert problems_of(resources=resources) == (problem,)


@pytest.mark.parametrize(
    ("resources", "problem"),
    [
        (
            {"error_rate": {"window": 0}},
            "resources.error_rate.window: expected a whole number of probes, at least 1, got 0",
        ),
        (
            {"history_size": 0},
            "resources.history_size: expected a whole number of samples, at least 1, got 0",
        ),
        (
            {"trend": {"min_samples": 2}},
            "resources.trend.min_samples: expected a whole number of samples, at least 3, got 2",
        ),
    ],
)
def test_a_count_says_what_it_counts(resources: dict[str, Any], problem: str) -> None:
    assert problems_of(resources=resources) == (problem,)


def test_state_dir_expects_a_directory_path_like_the_others() -> None:
    assert problems_of(state={"dir": 5}) == ("state.dir: expected a directory path, got 5",)


def test_a_null_webhook_url_is_no_webhook() -> None:
    """`url: null` is off, as null is for every other setting; with headers it is missing."""
    config = parse({"app": {"command": ["x"]}, "alerts": {"webhook": {"url": None}}}, BASE)
    assert config.alerts.webhook is None
    assert problems_of(alerts={"webhook": {"url": None, "headers": {"A": "b"}}}) == (
        "alerts.webhook.url: required, the webhook's URL, since other webhook settings are"
        " given",
    )
