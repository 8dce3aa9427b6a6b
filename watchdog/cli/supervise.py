"""`run` and `check`: supervise the app, or only say whether its config would do."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from watchdog.cli.common import (
    EXIT_CONFIG,
    _load,
    _read,
    config_option,
    key_flags,
    main,
)
from watchdog.config import Config


@main.command()
@config_option
@key_flags
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="At a terminal, show every probe and sample too (the log files always have them).",
)
def run(config_path: Path, verbose: bool, **given: object) -> None:
    """Start the app and supervise it until SIGTERM or SIGINT."""
    import asyncio
    import functools

    from watchdog.outputs.logfiles import prepare_log_dir
    from watchdog.outputs.logs import LogDirError, Terminal, open_events
    from watchdog.process.instancelock import InstanceLock, LockHeldError, lock_path
    from watchdog.runtime import signals
    from watchdog.runtime.loop import Runtime

    # Held until the runtime's handlers are in place, so that a reload or stop sent
    # during start-up is handled rather than killing the process.
    signals.hold()
    try:
        config = _load(config_path, given, check_host=True)
        # state.dir is logging.dir unless set: name the key the user wrote.
        shared = config.state.dir == config.logging.dir
        prepare_log_dir(config.state.dir, "logging.dir" if shared else "state.dir")
        # Before any log file is touched: a second watchdog of this app must change nothing.
        lock = InstanceLock(lock_path(config.state.dir, config.app.name))
        lock.acquire()
        terminal = Terminal.of(sys.stderr, verbose)
        events = open_events(config, terminal=terminal)
    except (LogDirError, LockHeldError) as exc:
        signals.release()
        click.echo(f"watchdog: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except OSError as exc:
        signals.release()
        click.echo(f"watchdog: state.dir: cannot create the lock file ({exc})", err=True)
        sys.exit(EXIT_CONFIG)
    except BaseException:
        signals.release()  # nothing started; leave the process as we found it
        raise

    def reload_config() -> Config:
        return _read(config_path, given, check_host=True)

    reopen = functools.partial(open_events, terminal=terminal)
    runtime = Runtime(config, events, reload_config, reopen, lock=lock, config_file=config_path)
    try:
        code = asyncio.run(runtime.run())
    finally:
        runtime.release_lock()
    sys.exit(code)


@main.command()
@config_option
@key_flags
def check(config_path: Path, **given: object) -> None:
    """Validate the config and print it with every default filled in."""
    import yaml

    from watchdog.config import effective

    config = _load(config_path, given, check_host=True)
    click.echo(f"# {config_path}: valid")
    click.echo(yaml.safe_dump(effective(config), sort_keys=False), nl=False)
