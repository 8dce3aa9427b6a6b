"""The command line leaves the calling process as it found it when nothing starts."""

from __future__ import annotations

import signal
from pathlib import Path

from click.testing import CliRunner

from watchdog.cli import main
from watchdog.signals import HANDLED_SIGNALS

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
