"""The state, alerts and metrics sections: defaults, secrets kept out of errors, loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from watchdog.config import ConfigError, effective, parse

BASE = Path("/srv/api")
HOOK = "https://hooks.example.test/services/T000/B000/XXXXsecretXXXX"


def config_with(**sections: Any) -> Any:
    return parse({"app": {"command": ["x"]}, **sections}, BASE)


def problems_of(**sections: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_with(**sections)
    return list(info.value.problems)


def test_defaults_are_off_and_state_lives_with_the_logs() -> None:
    config = config_with()
    assert config.state.dir == BASE / "logs"
    assert config.alerts.webhook is None
    assert config.alerts.command is None
    assert config.alerts.events == (
        "restart",
        "crash",
        "crash_loop",
        "restart_recommended",
        "critical",
    )
    assert config.alerts.max_per_minute == 6
    assert (config.metrics.listen, config.metrics.allow_remote, config.metrics.textfile) == (
        None,
        False,
        None,
    )


def test_webhook_and_command_are_read() -> None:
    config = config_with(
        alerts={
            "webhook": {"url": HOOK, "timeout": "2s", "headers": {"Authorization": "Bearer t0k"}},
            "command": ["/usr/local/bin/page-me", "--team", "api"],
            "events": ["restart", "recovered"],
        },
        state={"dir": "/var/lib/watchdog"},
    )
    assert config.alerts.webhook is not None
    assert (config.alerts.webhook.url, config.alerts.webhook.timeout) == (HOOK, 2.0)
    assert dict(config.alerts.webhook.headers) == {"Authorization": "Bearer t0k"}
    assert config.alerts.command == ("/usr/local/bin/page-me", "--team", "api")
    assert config.alerts.events == ("restart", "recovered")
    assert config.state.dir == Path("/var/lib/watchdog")


def test_secrets_never_appear_in_check_output() -> None:
    config = config_with(
        alerts={"webhook": {"url": HOOK, "headers": {"Authorization": "Bearer t0k"}}}
    )
    shown = yaml.safe_dump(effective(config))
    assert "secret" not in shown
    assert "t0k" not in shown
    assert effective(config)["alerts"]["webhook"]["url"] == "<redacted>"
    assert effective(config)["alerts"]["webhook"]["headers"] == {"Authorization": "<redacted>"}


@pytest.mark.parametrize(
    "webhook",
    [
        {"url": "ftp://hooks.example.test/XXXXsecretXXXX"},
        {"url": "https://hooks.example.test/XXXXsecretXXXX", "headers": {"X-Token": 12345678}},
        {"url": "https://hooks.example.test/XXXXsecretXXXX", "headers": ["XXXXsecretXXXX"]},
        {"url": "https://hooks.example.test/XXXX\tsecretXXXX"},
        {"url": "http://-\u00e9.com/XXXXsecretXXXX"},  # an IDN httpx cannot encode
    ],
)
def test_a_bad_secret_is_named_but_not_shown(webhook: dict[str, Any]) -> None:
    problems = problems_of(alerts={"webhook": webhook})
    assert len(problems) == 1
    assert problems[0].startswith("alerts.webhook.")
    assert "not shown: a secret" in problems[0]
    assert "secret" not in problems[0].replace("not shown: a secret", "")
    assert "12345678" not in problems[0]


def test_webhook_settings_without_a_url_are_an_error() -> None:
    assert problems_of(alerts={"webhook": {"timeout": "3s"}}) == [
        "alerts.webhook.url: required, the webhook's URL, since other webhook settings are given"
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"alerts": {"events": ["restart", "tuesday"]}}, "alerts.events: expected a list of: "),
        ({"alerts": {"max_per_minute": 0}}, "alerts.max_per_minute: expected a whole number"),
        ({"alerts": {"command": "page-me --now"}}, None),
        ({"metrics": {"listen": "0.0.0.0:9464"}}, "metrics.listen: expected a loopback address"),
        ({"metrics": {"listen": "[::]:9464"}}, "metrics.listen: expected a loopback address"),
        ({"metrics": {"listen": "example.com:9464"}}, "metrics.listen: expected an address like"),
        ({"metrics": {"listen": "127.0.0.1:99999"}}, "metrics.listen: expected an address like"),
        ({"metrics": {"listen": "127.0.0.1"}}, "metrics.listen: expected an address like"),
    ],
)
def test_bad_operations_settings_are_named(raw: dict[str, Any], message: str | None) -> None:
    if message is None:  # a string command is split, never given to a shell
        assert config_with(**raw).alerts.command == ("page-me", "--now")
        return
    problems = problems_of(**raw)
    assert any(problem.startswith(message) for problem in problems), problems


@pytest.mark.parametrize(
    ("listen", "allow_remote", "shown"),
    [
        ("127.0.0.1:9464", False, "127.0.0.1:9464"),
        ("localhost:9464", False, "127.0.0.1:9464"),
        ("[::1]:9464", False, "[::1]:9464"),
        ("0.0.0.0:9464", True, "0.0.0.0:9464"),
    ],
)
def test_listen_addresses(listen: str, allow_remote: bool, shown: str) -> None:
    config = config_with(metrics={"listen": listen, "allow_remote": allow_remote})
    assert str(config.metrics.listen) == shown
    assert effective(config)["metrics"]["listen"] == shown


def test_a_webhook_written_as_a_bare_url_is_not_shown() -> None:
    """`webhook: https://...` (a string, not a mapping) is an error that keeps the URL hidden."""
    problems = problems_of(alerts={"webhook": HOOK})
    assert problems == [
        f"alerts.webhook: expected a mapping of settings, got a str of {len(HOOK)} characters"
        " (not shown: a secret)"
    ]
