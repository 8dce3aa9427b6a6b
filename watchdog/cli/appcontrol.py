"""`stop` and `start`: the app down on purpose, and up again, while the watchdog stays up."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from watchdog.cli.common import _load, _state_file, config_option, main
from watchdog.config import Config

# What a watchdog that answers these requests writes in its state file: an older one
# would die of a real-time signal it does not handle, so it is not sent one.
CONTROLS = ("stop", "start")


@main.command()
@config_option
def stop(config_path: Path) -> None:
    """Stop the app and keep it stopped; the watchdog stays up. `watchdog start` undoes it."""
    from watchdog.cli.control import outcome
    from watchdog.core.units import format_duration
    from watchdog.runtime.signals import STOP_APP

    config = _load(config_path)
    name = config.app.name
    answer = _ask(config, config_path, "stop", STOP_APP)
    if answer.outcome == "stopping":
        click.echo(f"watchdog: stopping {name}")
        # The longest a stop takes: quiescing the held socket, then TERM -> grace -> KILL.
        bound = 2 * config.app.stop_timeout + config.diagnostics.timeout + 10
        answer = outcome(_state_file(config), answer, bound)
        if answer.outcome is None:
            _no_outcome("stop", format_duration(bound))
    if answer.outcome == "stopped":
        click.echo(f"watchdog: {name} stopped by operator; `watchdog start` starts it again")
    else:
        detail = answer.detail.get("detail", "no answer")
        click.echo(f"watchdog: {name} not stopped: {detail}", err=True)
        sys.exit(1)


@main.command()
@config_option
def start(config_path: Path) -> None:
    """Start the app again after `watchdog stop`, as a fresh child; wait until it is healthy."""
    from watchdog.cli.operate import _restart_outcome
    from watchdog.runtime.signals import START_APP

    config = _load(config_path)
    name = config.app.name
    answer = _ask(config, config_path, "start", START_APP)
    if answer.outcome == "starting":
        click.echo(f"watchdog: starting {name}")
        _restart_outcome(config, answer, "start")
    elif answer.outcome == "not_stopped":
        click.echo(f"watchdog: {name} is not stopped by operator: {answer.detail.get('detail')}")
    else:
        click.echo(
            f"watchdog: {name} not started: {answer.detail.get('detail', 'no answer')}", err=True
        )
        sys.exit(1)


def _ask(config: Config, config_path: Path, control: str, signum: int) -> Any:
    from watchdog.cli.control import StateUnreadableError, pid_is_ours, read_state
    from watchdog.cli.operate import _request

    try:
        state = read_state(_state_file(config)) or {}
    except StateUnreadableError:
        state = {}
    controls = (state.get("watchdog") or {}).get("controls") or ()
    if state and pid_is_ours(state) and control not in controls:
        click.echo(
            f"watchdog: the running watchdog does not take `watchdog {control}` (an older"
            " version): restart it to use this",
            err=True,
        )
        sys.exit(1)
    return _request(config, config_path, signum)


def _no_outcome(what: str, bound: str) -> None:
    click.echo(
        f"watchdog: no outcome of the {what} within {bound}: see `watchdog status`", err=True
    )
    sys.exit(1)
