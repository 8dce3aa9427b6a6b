"""The worker recycling keys: off by default, and `check` names a bad one with its value."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from watchdog.cli import main
from watchdog.config import ConfigError, parse

BASE = Path("/srv/worker-tests")


def memory(**keys: object) -> dict[str, object]:
    return {"app": {"command": ["x"]}, "resources": {"memory": keys}}


def problems(**keys: object) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        parse(memory(**keys), BASE)
    return caught.value.problems


def test_recycling_is_off_unless_a_worker_cap_is_set() -> None:
    parsed = parse(memory(), BASE).resources.memory
    assert parsed.max_worker_rss is None
    assert (parsed.worker_signal, parsed.worker_recycles_per_hour) == (signal.SIGTERM, 12)
    parsed = parse(memory(max_worker_rss="300MB", worker_signal="quit"), BASE).resources.memory
    assert (parsed.max_worker_rss, parsed.worker_signal) == (300 * 2**20, signal.SIGQUIT)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (
            {"max_worker_rss": "2GB", "max_rss": "1GB"},
            "resources.memory.max_worker_rss: expected less than resources.memory.max_rss"
            " (1GB), got 2GB",
        ),
        (
            {"max_worker_rss": "1GB", "max_rss": "1GB"},
            "resources.memory.max_worker_rss: expected less than resources.memory.max_rss"
            " (1GB), got 1GB",
        ),
        (
            {"max_worker_rss": "lots"},
            'resources.memory.max_worker_rss: expected a size like 1.5GB, got "lots"',
        ),
        (
            {"worker_signal": "STOP"},
            "resources.memory.worker_signal: expected a signal that ends a process, like TERM,"
            " INT, QUIT or KILL, got STOP",
        ),
        (
            {"worker_signal": "NOPE"},
            'resources.memory.worker_signal: expected a signal name like TERM, got "NOPE"',
        ),
        (
            {"worker_recycles_per_hour": 0},
            "resources.memory.worker_recycles_per_hour: expected a whole number of workers, at"
            " least 1, got 0",
        ),
    ],
)
def test_a_bad_worker_key_is_named_with_its_value(keys: dict[str, object], problem: str) -> None:
    assert problems(**keys) == (problem,)


def test_a_worker_cap_below_the_app_cap_is_fine() -> None:
    parsed = parse(memory(max_worker_rss="300MB", max_rss="1GB"), BASE).resources.memory
    assert parsed.max_worker_rss < parsed.max_rss


def test_check_refuses_a_bad_worker_key_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "watchdog.yaml"
    path.write_text(
        "app: {command: [sleep, '1']}\nresources: {memory: {max_worker_rss: 2GB, max_rss: 1GB}}\n"
    )
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert result.exit_code == 2
    assert "resources.memory.max_worker_rss: expected less than" in result.output
