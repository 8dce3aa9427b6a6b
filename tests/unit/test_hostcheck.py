"""check and run refuse an app.cwd or app.command that cannot start on this host."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from watchdog.cli import main
from watchdog.config import AppConfig, ConfigError, load, parse
from watchdog.config.hostcheck import app_problems
from watchdog.process.child import SpawnError, spawn


def app_of(tmp_path: Path, **app: object) -> AppConfig:
    return parse({"app": app}, tmp_path, python=sys.executable).app


def program(path: Path, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


def problems(tmp_path: Path, environ: dict[str, str] | None = None, **app: object) -> list[str]:
    """What app_problems says, written as a problem line of `check`."""
    found = app_problems(app_of(tmp_path, **app), environ if environ is not None else {})
    return [f"app.{key}: expected {expected}, got {got}" for key, expected, got in found]


def test_a_runnable_app_has_no_problem(tmp_path: Path) -> None:
    """{python}, a program on PATH and one relative to app.cwd all start."""
    program(tmp_path / "srv" / "bin" / "serve")
    program(tmp_path / "tools" / "api")
    path = {"PATH": f"/nonexistent:{tmp_path / 'tools'}"}
    assert problems(tmp_path, command=["{python}", "-c", "pass"]) == []
    assert problems(tmp_path, path, command=["api", "--port", "1"]) == []
    assert problems(tmp_path, command=["bin/serve"], cwd="srv") == []
    assert problems(tmp_path, command=["./bin/serve"], cwd="srv") == []
    assert problems(tmp_path, command=[str(tmp_path / "tools" / "api")]) == []


@pytest.mark.parametrize(
    ("cwd", "got"),
    [
        ("/nonexistent/app", '"/nonexistent/app" (no such directory)'),
        ("a-file", '"{tmp}/a-file" (not a directory)'),
        ("a-file/below", '"{tmp}/a-file/below" (not a directory)'),
    ],
)
def test_a_missing_cwd_is_named(tmp_path: Path, cwd: str, got: str) -> None:
    """An app.cwd the child cannot start in is one problem; the command is not looked for."""
    (tmp_path / "a-file").write_text("")
    assert problems(tmp_path, command=["no-such-program"], cwd=cwd) == [
        f"app.cwd: expected an existing directory, got {got.format(tmp=tmp_path)}"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root enters any directory")
def test_a_cwd_that_cannot_be_entered_is_named(tmp_path: Path) -> None:
    """A directory without search permission cannot be the child's working directory."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o600)
    assert problems(tmp_path, command=["{python}"], cwd="locked") == [
        f'app.cwd: expected a directory the watchdog may enter, got "{locked}" (permission denied)'
    ]


def test_commands_that_cannot_start_are_named(tmp_path: Path) -> None:
    """Not on PATH, no such file, not executable, a directory: each says which."""
    program(tmp_path / "srv" / "notes.txt", 0o644)
    (tmp_path / "srv" / "lib").mkdir()
    path = {"PATH": str(tmp_path / "srv")}
    assert problems(tmp_path, path, command="pyhton3 -m app") == [
        'app.command: expected a program found on PATH, got "pyhton3" (not found)'
    ]
    assert problems(tmp_path, path, command=["./serve"], cwd="srv") == [
        f'app.command: expected an executable program, got "./serve" (no such file in app.cwd'
        f" {tmp_path / 'srv'})"
    ]
    assert problems(tmp_path, path, command=["/opt/nowhere/serve"]) == [
        'app.command: expected an executable program, got "/opt/nowhere/serve" (no such file)'
    ]
    assert problems(tmp_path, path, command=["notes.txt"]) == [
        'app.command: expected an executable program, got "notes.txt" (not executable:'
        f" {tmp_path / 'srv' / 'notes.txt'})"
    ]
    assert problems(tmp_path, path, command=["./lib"], cwd="srv") == [
        'app.command: expected an executable program, got "./lib" (a directory:'
        f" {tmp_path / 'srv'}/./lib)"
    ]


def test_path_comes_from_app_env_when_it_sets_one(tmp_path: Path) -> None:
    """app.env's PATH is the child's, so the command is looked up on it; relative entries
    resolve against app.cwd, as exec does after the child's chdir."""
    program(tmp_path / "srv" / "venv" / "bin" / "uvicorn")
    inherited = {"PATH": "/usr/bin:/bin"}
    env = {"PATH": str(tmp_path / "srv" / "venv" / "bin")}
    assert problems(tmp_path, inherited, command=["uvicorn"], env=env) == []
    assert (
        problems(tmp_path, inherited, command=["uvicorn"], env={"PATH": "venv/bin"}, cwd="srv")
        == []
    )
    assert problems(tmp_path, inherited, command=["uvicorn"], env={"PATH": "/nowhere"}) == [
        """app.command: expected a program found on app.env's PATH, got "uvicorn" (not found)"""
    ]
    assert problems(tmp_path, inherited, command=["uvicorn"]) == [
        'app.command: expected a program found on PATH, got "uvicorn" (not found)'
    ]


def test_a_shell_command_is_not_looked_into(tmp_path: Path) -> None:
    """With shell: true the line is /bin/sh's to run: only app.cwd is checked."""
    assert problems(tmp_path, command="no-such-program --now", shell=True) == []
    assert problems(tmp_path, command="no-such-program", shell=True, cwd="gone") == [
        f'app.cwd: expected an existing directory, got "{tmp_path / "gone"}" (no such directory)'
    ]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_checks_the_host_only_when_asked(tmp_path: Path) -> None:
    """`logs` and `status` read a config whose app cannot start; check, run and reload don't."""
    path = write(tmp_path / "cfg.yaml", "app: {command: [no-such-program], cwd: /nonexistent}\n")
    assert load(path).app.cwd == Path("/nonexistent")
    with pytest.raises(ConfigError) as caught:
        load(path, check_host=True)
    assert caught.value.problems == (
        'app.cwd: expected an existing directory, got "/nonexistent" (no such directory)',
    )


def test_host_problems_come_with_every_other_problem(tmp_path: Path) -> None:
    """All problems at once: the host's beside the file's, unless the key itself is bad."""
    path = write(
        tmp_path / "cfg.yaml", "app: {command: [no-such-program]}\nhealth: {interval: soon}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(path, check_host=True)
    assert [p.split(":")[0] for p in caught.value.problems] == ["app.command", "health.interval"]
    path = write(tmp_path / "cfg.yaml", "app: {command: [x], cwd: 7, env: {PATH: [1]}}\n")
    with pytest.raises(ConfigError) as caught:
        load(path, check_host=True)
    assert [p.split(":")[0] for p in caught.value.problems] == ["app.cwd", "app.env.PATH"]


@pytest.mark.parametrize("command", ["check", "run"])
def test_check_and_run_exit_2_naming_the_key(tmp_path: Path, command: str) -> None:
    """A missing cwd fails check, and run before anything starts (exit 2, not a crash loop)."""
    marker = tmp_path / "started"
    path = write(
        tmp_path / "cfg.yaml",
        f"app:\n  command: ['{{python}}', -c, \"open(r'{marker}', 'w').close()\"]\n"
        "  cwd: /nonexistent\nlogging: {dir: logs}\n",
    )
    result = CliRunner().invoke(main, [command, "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert (
        '  app.cwd: expected an existing directory, got "/nonexistent" (no such directory)'
        in result.stderr
    )
    assert not marker.exists()
    assert not (tmp_path / "logs").exists()


def test_a_cwd_gone_since_the_check_is_named_at_spawn(tmp_path: Path) -> None:
    """At run time a cwd removed after start is reported as the cwd, not as the command."""
    app = app_of(tmp_path, command=["{python}", "-c", "pass"], cwd="gone")

    async def start() -> None:
        spawn(app, 1, lambda stream, lines: None, 0.0)

    with pytest.raises(SpawnError) as caught:
        asyncio.run(start())
    assert str(caught.value) == f"app.cwd {tmp_path / 'gone'} does not exist"
