"""The command line leaves the calling process as it found it when nothing starts."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from watchdog.cli import main
from watchdog.runtime.signals import HANDLED_SIGNALS

RUNNABLE = "app: {command: ['{python}', -c, pass]}\n"  # passes the check of app.command


def _blocked() -> set[int]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def test_failed_run_releases_held_signals(tmp_path: Path) -> None:
    """`run` holds stop/reload signals during start-up and releases them if it cannot start."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("app: {command: [x]}\nhealth: {interval: never}\n")
    result = CliRunner().invoke(main, ["run", "--config", str(bad)])
    assert result.exit_code == 2
    assert not _blocked() & set(HANDLED_SIGNALS)


def test_unwritable_log_dir_exits_2_and_releases(tmp_path: Path) -> None:
    """A log directory that cannot be created (a file stands in its way) exits 2, root or not."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    config = tmp_path / "watchdog.yaml"
    config.write_text(f"{RUNNABLE}logging: {{dir: {blocker}/logs}}\n")
    result = CliRunner().invoke(main, ["run", "--config", str(config)])
    assert result.exit_code == 2
    assert "logging.dir: cannot write to" in result.stderr
    assert not _blocked() & set(HANDLED_SIGNALS)


def test_log_file_that_cannot_be_opened_exits_2(tmp_path: Path) -> None:
    """A directory standing where a log file should be is a clear start-up error."""
    logs = tmp_path / "logs"
    (logs / "api_health.log").mkdir(parents=True)
    config = tmp_path / "watchdog.yaml"
    config.write_text(RUNNABLE)
    result = CliRunner().invoke(main, ["run", "--config", str(config)])
    assert result.exit_code == 2
    assert "cannot open" in result.stderr
    assert "api_health.log" in result.stderr


def _check(tmp_path: Path, *flags: str, text: str = RUNNABLE) -> Result:
    config = tmp_path / "watchdog.yaml"
    config.write_text(text)
    return CliRunner().invoke(main, ["check", "--config", str(config), *flags])


def test_a_short_interval_needs_and_takes_a_timeout_flag(tmp_path: Path) -> None:
    """--interval 2s is valid with --timeout 1s, the default timeout (5s) out of the way."""
    result = _check(tmp_path, "--interval", "2s", "--timeout", "1s")
    assert result.exit_code == 0, result.output
    health = yaml.safe_load(result.stdout)["health"]
    assert (health["interval"], health["timeout"]) == ("2s", "1s")


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (
            ["--interval", "5s"],
            "health.timeout: expected less than --interval (5s), so probes never overlap,"
            " got 5s (the default)",
        ),
        (
            ["--interval", "2s", "--timeout", "3s"],
            "--timeout (health.timeout): expected less than --interval (2s), so probes never"
            " overlap, got 3s",
        ),
        (
            ["--timeout", "soon"],
            "--timeout (health.timeout): expected a positive duration like 30s, 500ms or 5m,"
            ' got "soon"',
        ),
        (
            ["--max-failures", "0"],
            "--max-failures (health.max_failures): expected a whole number of at least 1, got 0",
        ),
        (
            ["--url", "ftp://x"],
            '--url (health.url): expected an http:// or https:// URL, got "ftp://x"',
        ),
    ],
)
def test_a_bad_flag_is_named_in_the_error(tmp_path: Path, flags: list[str], problem: str) -> None:
    """When a value typed on the command line is the problem, the error names its flag."""
    result = _check(tmp_path, *flags)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1:] == [f"  {problem}"]


def test_a_file_value_is_not_blamed_on_a_flag(tmp_path: Path) -> None:
    """Only the keys a flag set are named by their flag; the file's own stay key paths."""
    text = RUNNABLE + "health: {interval: 10s, timeout: 20s}\n"
    result = _check(tmp_path, "--url", "http://127.0.0.1:1/", text=text)
    assert result.stderr.splitlines()[1:] == [
        "  health.timeout: expected less than health.interval (10s), so probes never overlap,"
        " got 20s"
    ]
    text = RUNNABLE + "health: 5\n"  # a section that is no mapping keeps its own error
    assert _check(tmp_path, "--interval", "2s", text=text).stderr.splitlines()[1:] == [
        "  health: expected a mapping of settings, got 5"
    ]
