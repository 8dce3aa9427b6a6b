"""Secrets in the config (app.env values, the webhook's URL and headers) are never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from watchdog.cli import main
from watchdog.config import ConfigError, load

SECRET = "hunter2-sEcReT"


def problems_in(path: Path, text: str) -> tuple[str, ...]:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    return caught.value.problems


def test_check_shows_env_keys_and_never_values(tmp_path: Path) -> None:
    """`watchdog check` lists app.env's names, each value replaced."""
    path = tmp_path / "cfg.yaml"
    path.write_text(
        f"app:\n  command: ['{{python}}', -c, pass]\n  env: {{DB_PASSWORD: {SECRET}, PORT: 8123}}\n"
    )
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert "8123" not in result.output
    shown = yaml.safe_load(result.stdout)["app"]["env"]
    assert shown == {"DB_PASSWORD": "<redacted>", "PORT": "<redacted>"}
    assert dict(load(path).app.env) == {"DB_PASSWORD": SECRET, "PORT": "8123"}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            f"[{SECRET}]",
            "app.env.DB_PASSWORD: expected a string or number value, got a list of 1 item"
            " (not shown: a secret)",
        ),
        (
            f"{{x: {SECRET}}}",
            "app.env.DB_PASSWORD: expected a string or number value, got a mapping of 1 item"
            " (not shown: a secret)",
        ),
        (
            f'"{SECRET}\\ud800"',
            "app.env.DB_PASSWORD: expected text without NUL or a lone surrogate,"
            f" got a str of {len(SECRET) + 1} characters (not shown: a secret)",
        ),
        (
            f'"{SECRET}\\0"',
            "app.env.DB_PASSWORD: expected text without NUL or a lone surrogate,"
            f" got a str of {len(SECRET) + 1} characters (not shown: a secret)",
        ),
        (
            "yes",
            "app.env.DB_PASSWORD: expected a string or number value (quote true, yes or on to"
            " pass it as text), got a bool (not shown: a secret)",
        ),
    ],
)
def test_an_env_problem_names_the_key_never_the_value(
    tmp_path: Path, value: str, problem: str
) -> None:
    """One bad entry is one problem, naming its variable; no value of the mapping is shown."""
    text = f"app:\n  command: [x]\n  env: {{USER_NAME: {SECRET}-2, DB_PASSWORD: {value}}}\n"
    assert problems_in(tmp_path / "cfg.yaml", text) == (problem,)


def test_a_bad_env_name_is_shown_but_no_value(tmp_path: Path) -> None:
    """A name that cannot be a variable is shown (names are not secrets), its value is not."""
    text = f'app:\n  command: [x]\n  env: {{"A=B": {SECRET}, 7: {SECRET}, OK: {SECRET}}}\n'
    problems = problems_in(tmp_path / "cfg.yaml", text)
    assert problems == (
        """app.env: expected variable names without '=' or NUL, got "A=B\"""",
        "app.env: expected variable names without '=' or NUL, got 7",
    )


def test_env_that_is_no_mapping_is_not_shown(tmp_path: Path) -> None:
    """`env: DB_PASSWORD=...` (a string) is described by its shape only."""
    problems = problems_in(tmp_path / "cfg.yaml", f"app:\n  command: [x]\n  env: PW={SECRET}\n")
    assert problems == (
        f"app.env: expected a mapping of settings, got a str of {len(SECRET) + 3} characters"
        " (not shown: a secret)",
    )


HOOK = "alerts:\n  webhook:\n    url: https://hooks.example.test/T0/B0/XYZ\n    headers: "


@pytest.mark.parametrize(
    "value",
    [
        f'"Bearer {SECRET}\\r\\nX-Evil: {SECRET}"',
        f'"Bearer {SECRET}\\n"',
        f'"{SECRET}\\0"',
        f'" {SECRET}"',
        f'"{SECRET}\\u00e9"',
        f'"{SECRET}\\x7f"',
    ],
)
def test_a_header_value_http_cannot_carry_is_refused_unshown(tmp_path: Path, value: str) -> None:
    """CR, LF, NUL, other controls, non-ASCII, edge spaces: refused in check, never shown."""
    text = f"app: {{command: [x]}}\n{HOOK}{{Authorization: {value}}}\n"
    [problem] = problems_in(tmp_path / "cfg.yaml", text)
    assert problem.startswith(
        "alerts.webhook.headers.Authorization: expected printable ASCII, spaces only between"
        " words (no CR, LF, NUL or other control character), got a str of"
    )
    assert problem.endswith("characters (not shown: a secret)")
    assert SECRET not in problem


def test_header_names_must_be_tokens_and_values_strings(tmp_path: Path) -> None:
    """A name HTTP does not allow is shown (names are no secrets); a number value is not."""
    text = f'app: {{command: [x]}}\n{HOOK}{{"X Bad": {SECRET}, "X:Y": a, X-Num: 12345678}}\n'
    assert problems_in(tmp_path / "cfg.yaml", text) == (
        "alerts.webhook.headers: expected header names of letters, digits and"
        """ !#$%&'*+-.^_`|~, got "X Bad\"""",
        "alerts.webhook.headers: expected header names of letters, digits and"
        """ !#$%&'*+-.^_`|~, got "X:Y\"""",
        "alerts.webhook.headers.X-Num: expected a string value, got a number (not shown: a secret)",
    )


def test_good_headers_pass_and_are_shown_redacted(tmp_path: Path) -> None:
    """Words separated by a space or a tab are fine; check prints names only."""
    path = tmp_path / "cfg.yaml"
    path.write_text(
        f"app: {{command: ['{{python}}', -c, pass]}}\n"
        f'{HOOK}{{Authorization: "Bearer {SECRET}", X-Two: "a\\tb", X-Empty: ""}}\n'
    )
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    headers = yaml.safe_load(result.stdout)["alerts"]["webhook"]["headers"]
    assert headers == dict.fromkeys(["Authorization", "X-Two", "X-Empty"], "<redacted>")
