"""The `remedies` section: off by default, one action each, a POST that stays on the app's
origin, and every mistake named by `check`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from watchdog.cli import main
from watchdog.config import ConfigError, parse
from watchdog.config.remedies import REMEDIED

BASE = Path("/srv/remedy-tests")


def parsed(remedies: dict[str, Any], **sections: Any) -> Any:
    return parse({"app": {"command": ["x"]}, "remedies": remedies, **sections}, BASE)


def problems(remedies: dict[str, Any], **sections: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parsed(remedies, **sections)
    return list(caught.value.problems)


def test_every_remedy_is_off_by_default() -> None:
    config = parse({"app": {"command": ["x"]}}, BASE)
    for metric in REMEDIED:
        remedy = config.remedies.of(metric)
        assert (remedy.level, remedy.signal, remedy.post) == (None, None, None)
        assert (remedy.cooldown, remedy.settle) == (600.0, 30.0)
    assert config.remedies.timeout == 10.0


def test_a_remedy_reads_as_written() -> None:
    memory = {"level": "warning", "signal": "sigusr1", "cooldown": "2m", "settle": "5s"}
    config = parsed({"memory": memory, "cpu": {"level": "critical", "post": "/gc?deep=1"}})
    memory, cpu = config.remedies.memory, config.remedies.cpu
    assert (memory.level, memory.signal) == ("warning", "USR1")
    assert (memory.cooldown, memory.settle) == (120.0, 5.0)
    assert (cpu.level, cpu.post, cpu.signal) == ("critical", "/gc?deep=1", None)


@pytest.mark.parametrize(
    ("remedy", "problem"),
    [
        (
            {"level": "warning"},
            "remedies.memory.signal: required, a signal (e.g. USR1) or remedies.memory.post,"
            " since remedies.memory.level is set",
        ),
        (
            {"level": "warning", "signal": "USR1", "post": "/admin/cleanup"},
            "remedies.memory.post: expected one action per remedy: remedies.memory.signal or"
            ' remedies.memory.post, got "/admin/cleanup" beside remedies.memory.signal',
        ),
        (
            {"signal": "USR1"},
            "remedies.memory.level: required, warning or critical, the level that calls for"
            " remedies.memory.signal",
        ),
        (
            {"level": "high", "signal": "USR1"},
            'remedies.memory.level: expected warning or critical, got "high"',
        ),
        (
            {"level": "warning", "signal": "KILL"},
            "remedies.memory.signal: expected a signal the app handles: HUP, USR1, USR2, TTIN,"
            ' TTOU or WINCH, got "KILL"',
        ),
        (
            {"level": "warning", "signal": "TERM"},
            "remedies.memory.signal: expected a signal the app handles",
        ),
        (
            {"level": "warning", "signal": "USR1", "cooldown": "1m", "settle": "2m"},
            "remedies.memory.settle: expected at most remedies.memory.cooldown (1m), got 2m",
        ),
    ],
)
def test_a_bad_remedy_is_named(remedy: dict[str, Any], problem: str) -> None:
    found = problems({"memory": remedy})
    assert any(p.startswith(problem) for p in found), found


@pytest.mark.parametrize(
    "post",
    [
        "http://elsewhere.example/cleanup",
        "//elsewhere.example/cleanup",
        "admin/cleanup",
        "/admin cleanup",
        "/admin/cleanup#now",
        "/admin\\cleanup",
        "/admin/\ncleanup",
        "",
        42,
    ],
)
def test_a_post_is_a_path_on_the_apps_origin_never_a_url(post: object) -> None:
    [problem] = problems({"memory": {"level": "warning", "post": post}})
    assert problem.startswith(
        "remedies.memory.post: expected a path on the app's own host and port, like"
        " /admin/cleanup (no scheme or host), got "
    ), problem


def test_a_post_needs_a_health_url_on_this_host() -> None:
    remote = {"url": "http://api.example:8000/health"}
    [problem] = problems({"cpu": {"level": "warning", "post": "/gc"}}, health=remote)
    assert problem == (
        "remedies.cpu.post: expected health.url on a loopback address (localhost, 127.0.0.1,"
        " ::1) for a POST remedy: it goes to the app on this host, never elsewhere, got"
        ' "/gc" with the health URL on api.example'
    )
    for url in ("http://localhost:8000/h", "http://[::1]:8000/h", "https://127.0.0.2/h"):
        parsed({"cpu": {"level": "warning", "post": "/gc"}}, health={"url": url})
    # Through the held unix socket only the app can answer, whatever the URL's host.
    unix = {"listen": "unix:/run/api.sock", "command": ["x"]}
    parsed({"cpu": {"level": "warning", "post": "/gc"}}, health=remote, app=unix)


def test_a_remedy_switched_off_by_a_written_null_keeps_its_action() -> None:
    config = parsed({"memory": {"level": None, "signal": "USR1"}})
    assert config.remedies.memory.level is None


def _check(tmp_path: Path, remedies: str) -> Result:
    config = tmp_path / "watchdog.yaml"
    config.write_text("app: {command: ['{python}', -c, pass]}\n" + remedies)
    return CliRunner().invoke(main, ["check", "--config", str(config)])


def test_on_as_a_yaml_key_is_caught(tmp_path: Path) -> None:
    """YAML 1.1 reads a bare `on` as true: the key is `level`, and `on:` is named unknown."""
    result = _check(tmp_path, "remedies:\n  memory:\n    on: warning\n    signal: USR1\n")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "  remedies.memory.true: unknown key (a bare on or yes is YAML for true; known keys:"
        " cooldown, level, post, settle, signal)"
    )


def test_check_exits_2_naming_the_key(tmp_path: Path) -> None:
    result = _check(
        tmp_path, "remedies: {memory: {level: warning, post: 'http://elsewhere.example/x'}}\n"
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1:] == [
        "  remedies.memory.post: expected a path on the app's own host and port, like"
        ' /admin/cleanup (no scheme or host), got "http://elsewhere.example/x"'
    ]
