"""`restart` and `reload`: the running watchdog, proven to be this app's, asked to act."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from watchdog.cli.common import (
    EXIT_CONFIG,
    EXIT_NOT_RUNNING,
    _load,
    _state_file,
    config_option,
    main,
)
from watchdog.config import Config


@main.command()
@config_option
@click.option("--force", is_flag=True, help="Restart now, even within the restart throttle.")
def restart(config_path: Path, force: bool) -> None:
    """Restart the app: when the throttle allows, or now with --force."""
    import signal

    from watchdog.core.units import format_duration, format_span

    config = _load(config_path)
    answer = _request(config, config_path, signal.SIGUSR1 if force else signal.SIGUSR2)
    detail = answer.detail
    if answer.outcome == "restarting":
        click.echo(f"watchdog: restarting {config.app.name} now")
        _restart_outcome(config, answer)
    elif answer.outcome == "throttled" and detail.get("backoff"):
        wait = max(0, round(float(detail.get("restart_at", 0)) - _now()))
        click.echo(
            f"watchdog: {config.app.name} crashed and restarts in {format_span(wait)}"
            " (crash backoff); --force restarts now"
        )
    elif answer.outcome == "throttled":
        wait = max(0, round(float(detail.get("restart_at", 0)) - _now()))
        click.echo(
            f"watchdog: throttled (one restart per {format_duration(config.restart.min_interval)}):"
            f" {config.app.name} restarts in {format_span(wait)}; --force restarts now"
        )
    elif answer.outcome == "done":
        click.echo(f"watchdog: {config.app.name} was restarted meanwhile")
    else:
        click.echo(f"watchdog: not restarted: {detail.get('detail', 'no answer')}", err=True)
        sys.exit(1)


def _restart_outcome(config: Config, answer: Any, what: str = "restart") -> None:
    """Wait for the restart (or `watchdog start`) to end: the new child healthy, or why not."""
    from watchdog.cli.control import outcome
    from watchdog.core.units import format_duration

    # The longest a restart takes: a snapshot, the stop, then the new child's start.
    bound = (
        config.diagnostics.timeout
        + config.app.stop_timeout
        + config.health.startup_timeout
        + config.health.timeout
        + 10
    )
    final = outcome(_state_file(config), answer, bound)
    detail = final.detail
    name = config.app.name
    if final.outcome == "restarted":
        startup = format_duration(float(detail.get("startup", 0)))
        done = "started" if what == "start" else "restarted"
        click.echo(f"watchdog: {name} {done}: pid {detail.get('pid')} healthy after {startup}")
    elif final.outcome in ("restart_failed", "restart_cancelled"):
        serving = detail.get("serving_pid")
        kept = f"; pid {serving} keeps serving" if serving else ""
        click.echo(f"watchdog: {what} of {name} failed: {detail.get('detail')}{kept}", err=True)
        sys.exit(1)
    else:
        click.echo(
            f"watchdog: no outcome of the {what} within {format_duration(bound)}:"
            f" see `watchdog status`",
            err=True,
        )
        sys.exit(1)


@main.command()
@config_option
def reload(config_path: Path) -> None:
    """Make the running watchdog read its config again (SIGHUP)."""
    import signal

    config = _load(config_path)
    answer = _request(config, config_path, signal.SIGHUP)
    if answer.outcome in ("reloaded", "restarting"):
        changed = answer.detail.get("changed")
        shown = ", ".join(changed) if changed else "nothing"
        click.echo(f"watchdog: reloaded (changed: {shown})")
    elif answer.outcome == "reload_failed":
        click.echo("watchdog: reload failed; the old config stays in force:", err=True)
        for problem in answer.detail.get("errors", []):
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_CONFIG)
    else:
        click.echo("watchdog: no answer to the reload", err=True)
        sys.exit(1)


def _now() -> float:
    import time

    return time.time()


def _request(config: Config, config_path: Path, signum: Any) -> Any:
    from watchdog.cli.control import NotRunningError, request
    from watchdog.process.instancelock import lock_path

    try:
        return request(
            _state_file(config),
            signum,
            timeout=config.app.stop_timeout + 10,
            lock=lock_path(config.state.dir, config.app.name),
            config=config_path,
        )
    except NotRunningError as exc:
        click.echo(f"watchdog: {exc}", err=True)
        sys.exit(EXIT_NOT_RUNNING)
