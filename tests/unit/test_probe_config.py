"""health.headers, health.method and health.expect_body as `check` reads and shows them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from watchdog.cli import main
from watchdog.config import ConfigError, parse

SECRET = "Bearer s3cr3t-t0ken"


def problems(tmp_path: Path, **health: object) -> list[str]:
    try:
        parse({"app": {"command": ["x"]}, "health": health}, tmp_path, python=sys.executable)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def test_good_values_pass(tmp_path: Path) -> None:
    assert problems(tmp_path, method="HEAD", headers={"X-Key": SECRET}) == []
    assert problems(tmp_path, expect_body="ok") == []
    assert problems(tmp_path, expect_body={"status": "ok", "db": True, "n": 1}) == []


@pytest.mark.parametrize(
    ("health", "problem"),
    [
        ({"method": "POST"}, 'health.method: expected GET or HEAD, got "POST"'),
        ({"method": "get"}, 'health.method: expected GET or HEAD, got "get"'),
        (
            {"method": "HEAD", "expect_body": "ok"},
            'health.expect_body: expected null with health.method HEAD (no body comes), got "ok"',
        ),
        (
            {"expect_body": ""},
            "health.expect_body: expected a text the body must contain, or a mapping of JSON"
            ' keys to the values they must hold, got ""',
        ),
        ({"expect_body": {"status": ["ok"]}}, "health.expect_body: expected a text"),
        ({"expect_body": {}}, "health.expect_body: expected a text"),
        ({"expect_body": 200}, "health.expect_body: expected a text"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, health: dict, problem: str) -> None:
    [found] = problems(tmp_path, **health)
    assert found.startswith(problem)


def test_a_bad_header_value_is_never_shown(tmp_path: Path) -> None:
    [found] = problems(tmp_path, headers={"Authorization": SECRET + "\n"})
    assert found.startswith("health.headers.Authorization: expected printable ASCII")
    assert "s3cr3t" not in found


def test_check_shows_header_names_never_values(tmp_path: Path) -> None:
    config = tmp_path / "watchdog.yaml"
    health = {"headers": {"Authorization": SECRET}, "expect_body": {"status": "ok"}}
    config.write_text(yaml.safe_dump({"app": {"command": ["{python}", "-V"]}, "health": health}))
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output.split("\n", 1)[1])["health"]
    assert shown["headers"] == {"Authorization": "<redacted>"}
    assert shown["expect_body"] == {"status": "ok"}
    assert shown["method"] == "GET"
    assert "s3cr3t" not in result.output
