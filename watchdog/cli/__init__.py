"""Command line: thin click commands; a bad config exits 2 before anything starts."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from watchdog import __version__
from watchdog.config import Config, ConfigError, load
from watchdog.config.kinds import Key
from watchdog.config.schema import KEYS

EXIT_CONFIG = 2
EXIT_NOT_RUNNING = 3  # as `status` says UNKNOWN

config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("watchdog.yaml"),
    show_default=True,
    help="The YAML config file.",
)


# The guide's auto_restart.py flags (and --timeout, which a short --interval needs): the
# schema's keys that have one, laid over the file.
FLAGS = tuple(key for key in KEYS.values() if key.flag)


def _dest(key: Key) -> str:
    return key.path.replace(".", "_")


def key_flags(function: Any) -> Any:
    """An option for each key with a flag, passed on as keyword arguments named by path."""
    for key in reversed(FLAGS):
        kind = int if isinstance(key.default, int) else str  # as the file would write it
        text = f"Sets {key.path}: {key.plain_doc} (default {key.default})."
        function = click.option(key.flag, _dest(key), type=kind, help=text)(function)
    return function


def _overrides(given: dict[str, object]) -> dict[str, dict[str, object]]:
    overrides: dict[str, dict[str, object]] = {}
    for key in FLAGS:
        section, _, name = key.path.rpartition(".")
        overrides.setdefault(section, {})[name] = given.get(_dest(key))
    return overrides


def _read(config_path: Path, given: dict[str, object], *, check_host: bool) -> Config:
    """load() with the flags laid over the file, their errors naming the flags."""
    flags = {key.path: str(key.flag) for key in FLAGS}
    return load(config_path, _overrides(given), flags=flags, check_host=check_host)


def _load(
    config_path: Path, given: dict[str, object] | None = None, *, check_host: bool = False
) -> Config:
    """The config, or exit 2 listing its problems; `check_host` as for `load`."""
    try:
        return _read(config_path, given or {}, check_host=check_host)
    except ConfigError as exc:
        click.echo(f"watchdog: invalid config {config_path}:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_CONFIG)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="watchdog")
def main() -> None:
    """Supervise a web API: start it, probe its health, restart it safely."""


@main.command()
@config_option
@key_flags
def run(config_path: Path, **given: object) -> None:
    """Start the app and supervise it until SIGTERM or SIGINT."""
    import asyncio

    from watchdog.outputs.logfiles import prepare_log_dir
    from watchdog.outputs.logs import LogDirError, open_events
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
        events = open_events(config)
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

    runtime = Runtime(config, events, reload_config, open_events, lock=lock)
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


@main.group(invoke_without_command=True)
@config_option
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines as they come.")
@click.option(
    "--category",
    type=click.Choice(["main", "performance", "error", "health", "memory", "all"]),
    default="main",
    show_default=True,
    help="Which log to show; 'all' merges every category but error.",
)
@click.option("--since", help="Only events from this long ago, e.g. 30m or 1h.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored JSON lines as they are.")
@click.pass_context
def logs(
    context: click.Context,
    config_path: Path,
    follow: bool,
    category: str,
    since: str | None,
    as_json: bool,
) -> None:
    """Print the watchdog's logs for a person (the files keep JSON)."""
    if context.invoked_subcommand is not None:
        return
    import time
    from collections import deque

    from watchdog.cli.logview import category_files, parse_line, read_events, render
    from watchdog.cli.logview import follow as follow_files
    from watchdog.core.units import parse_duration

    config = _load(config_path)
    try:
        cutoff = None if since is None else time.time() - parse_duration(since)
    except ValueError:
        raise click.BadParameter(
            f"expected a duration like 30m, got {since!r}", param_hint="--since"
        ) from None
    files = category_files(config.logging.dir, config.app.name, category)
    shown: deque[str] = deque(maxlen=256)

    def show(entry: dict[str, Any] | str) -> None:
        click.echo(
            json.dumps(entry, ensure_ascii=False)
            if as_json and isinstance(entry, dict)
            else render(entry)
        )

    for entry in read_events(files, cutoff):
        show(entry)
    if follow:

        def show_line(line: str) -> None:
            if line in shown:  # the same event copied to two category files
                return
            shown.append(line)
            show(line if as_json else parse_line(line))

        with contextlib.suppress(KeyboardInterrupt):
            follow_files([path for path in files if not path.suffix[1:].isdigit()], show_line)


@logs.command("clean")
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The YAML config file  [default: the one given to `logs`, else watchdog.yaml]",
)
@click.pass_context
def logs_clean(context: click.Context, config_path: Path | None) -> None:
    """Delete rotated log files older than logging.retention_days now."""
    from watchdog.outputs.logs import clean_logs

    # `logs -c wd.yaml clean` names the file on the group: it must not fall back to
    # ./watchdog.yaml and clean another app's logs.
    parent = context.parent.params if context.parent is not None else {}
    path = config_path or parent.get("config_path") or Path("watchdog.yaml")
    config = _load(path)
    removed = clean_logs(config)
    for name in removed:
        click.echo(f"removed {name}")
    click.echo(f"{len(removed)} file(s) older than {config.logging.retention_days} days removed")


@main.command()
@config_option
@click.option(
    "--show", type=click.IntRange(min=1), help="Print restart N's snapshot (1 = the newest)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a snapshot as stored).")
def restarts(config_path: Path, show: int | None, as_json: bool) -> None:
    """List past restarts, newest first; --show N prints one's diagnostic snapshot."""
    from watchdog.cli.restartlog import find_restarts, render_list, snapshot_path
    from watchdog.cli.snapshotview import render_snapshot

    config = _load(config_path)
    records = find_restarts(config.logging.dir, config.app.name)
    if not records:
        _fail(f"no restarts of {config.app.name} in the logs under {config.logging.dir}")
    if show is None:
        if as_json:
            click.echo(json.dumps([record.as_dict() for record in records], indent=2))
        else:
            click.echo("\n".join(render_list(records)))
        return
    if show > len(records):
        _fail(f"there is no restart {show}: the logs hold {len(records)}")
    record = records[show - 1]
    path = snapshot_path(record, config.logging.dir)
    if path is None:
        _fail(f"restart {show} ({record.reason}) has no snapshot: diagnostics off or failed")
    try:
        snapshot = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _fail(f"snapshot {path} is gone (removed by diagnostics.keep or max_age_days)")
    except (OSError, ValueError) as exc:
        _fail(f"snapshot {path} cannot be read: {exc}")
    if as_json:
        click.echo(json.dumps(snapshot, indent=2, ensure_ascii=False))
    else:
        click.echo(f"# {path}")
        click.echo("\n".join(render_snapshot(snapshot)))


def _fail(message: str) -> NoReturn:
    click.echo(f"watchdog: {message}", err=True)
    sys.exit(1)


def _state_file(config: Config) -> Path:
    from watchdog.outputs.statefile import state_path

    return state_path(config.state.dir, config.app.name)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON, for machines.")
@click.option(
    "--liveness",
    "liveness_only",
    is_flag=True,
    help="Exit 0 unless the watchdog itself is gone or hung (3): a container's liveness probe.",
)
def status(config_path: Path, as_json: bool, liveness_only: bool) -> None:
    """How the app stands; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios-style)."""
    import time

    from watchdog.cli.control import StateUnreadableError, pid_is_ours, read_state
    from watchdog.cli.statusview import UNKNOWN, assess, liveness, render

    try:
        config = load(config_path)
    except ConfigError as exc:
        click.echo(f"UNKNOWN: invalid config {config_path}: {'; '.join(exc.problems)}")
        sys.exit(UNKNOWN)
    try:
        state = read_state(_state_file(config))
    except StateUnreadableError as exc:
        click.echo(f"UNKNOWN: {config.app.name}: {exc}")
        sys.exit(UNKNOWN)
    now = time.time()
    ours = state is not None and pid_is_ours(state)
    host_alerts = config.resources.host.alert
    verdict = assess(state, now, ours, host_alerts=host_alerts)
    if as_json:
        verdict_data = {"code": verdict.code, "label": verdict.label, "summary": verdict.summary}
        document = {**(state or {}), "verdict": {**verdict_data, "reasons": list(verdict.reasons)}}
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        lines = render(state, verdict, now, app=config.app.name, host_alerts=host_alerts)
        for text, colour in lines:
            click.echo(click.style(text, fg=colour or None))  # colour stripped off a terminal
    # A sick app is the watchdog's to restart; only a watchdog that is gone or hung is the
    # orchestrator's, and restarting the container then is the cure.
    sys.exit(liveness(state, now, ours) if liveness_only else verdict.code)


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


def _restart_outcome(config: Config, answer: Any) -> None:
    """Wait for the restart to end: the new child healthy, or why it failed."""
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
        click.echo(f"watchdog: {name} restarted: pid {detail.get('pid')} healthy after {startup}")
    elif final.outcome in ("restart_failed", "restart_cancelled"):
        serving = detail.get("serving_pid")
        kept = f"; pid {serving} keeps serving" if serving else ""
        click.echo(f"watchdog: restart of {name} failed: {detail.get('detail')}{kept}", err=True)
        sys.exit(1)
    else:
        click.echo(
            f"watchdog: no outcome of the restart within {format_duration(bound)}:"
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
