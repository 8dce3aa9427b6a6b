"""`run` keeps resident only what supervising needs: every module stays in memory for the
watchdog's whole life, so other commands, snapshots and error hints are loaded on demand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from watchdog.cli import main

# What `run` imports before it supervises: its command, the runtime it starts, and a
# config read the way it reads one.
RUN_PATH = """
import sys
import click
from watchdog.cli import main
with click.Context(main) as context:
    main.get_command(context, "run")
import watchdog.runtime.loop, watchdog.outputs.logs, watchdog.process.instancelock
from watchdog.cli.common import _load
_load(__import__("pathlib").Path(sys.argv[1]), check_host=True)
print(" ".join(sorted(sys.modules)))
"""
NOT_FOR_RUN = {
    "watchdog.cli.appcontrol",  # stop, start
    "watchdog.cli.initcmd",
    "watchdog.cli.observe",  # logs, restarts, status
    "watchdog.cli.operate",  # restart, reload
    "watchdog.cli.statusview",
    "watchdog.diagnostics.snapshot",  # only once a snapshot is taken
    "watchdog.diagnostics.pyspy",
    "watchdog.diagnostics.procinfo",
    "difflib",  # only to hint at a misspelt key
}


def test_run_loads_neither_other_commands_nor_snapshots(tmp_path: Path) -> None:
    config = tmp_path / "watchdog.yaml"
    config.write_text(
        "app: {command: ['{python}', -c, pass]}\n"
        f"logging: {{dir: {tmp_path / 'logs'}}}\n"
        "health: {url: 'http://127.0.0.1:8000/health'}\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", RUN_PATH, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "watchdog.runtime.loop" in loaded
    assert not loaded & NOT_FOR_RUN


def test_every_command_is_named_where_the_group_finds_it() -> None:
    """A command missing from COMMANDS would never be imported, so never offered."""
    from watchdog.cli.common import COMMANDS

    with click.Context(main) as context:
        for name in COMMANDS:
            assert main.get_command(context, name) is not None, name
    assert set(main.commands) == set(COMMANDS)
