"""`logs`, `logs clean`, `restarts`, `status`: what a running or stopped watchdog left to read."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from watchdog.cli.common import (
    _fail,
    _load,
    _state_file,
    config_option,
    main,
)
from watchdog.config import Config, ConfigError, load


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


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON, for machines.")
@click.option(
    "--liveness",
    "liveness_only",
    is_flag=True,
    help="Exit 0 unless the watchdog itself is gone or hung (3): a container's liveness probe.",
)
@click.option("--watch", is_flag=True, help="Show it again every --interval until Ctrl-C.")
@click.option(
    "--interval",
    "every",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between two views with --watch.",
)
@click.option("--count", type=click.IntRange(min=1), help="With --watch: stop after N views.")
def status(
    config_path: Path,
    as_json: bool,
    liveness_only: bool,
    watch: bool,
    every: float,
    count: int | None,
) -> None:
    """How the app stands; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios-style).

    With --watch it is shown again and again (redrawn in place at a terminal), and the
    exit code is the last view's.
    """
    import time

    from watchdog.cli.sparkline import frame

    if not watch:
        text, code = _status_view(config_path, as_json, liveness_only)
        click.echo(text)
        sys.exit(code)
    at_terminal = sys.stdout.isatty()
    shown, code = 0, 0
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            text, code = _status_view(config_path, as_json, liveness_only)
            click.echo(frame(text, at_terminal, first=shown == 0), nl=False)
            shown += 1
            if count is not None and shown >= count:
                break
            time.sleep(every)
    sys.exit(code)


def _status_view(config_path: Path, as_json: bool, liveness_only: bool) -> tuple[str, int]:
    """What `status` prints, once, and its exit code."""
    import time

    from watchdog.cli.control import StateUnreadableError, pid_is_ours, read_state
    from watchdog.cli.sparkline import history_rows
    from watchdog.cli.statusview import UNKNOWN, assess, liveness, render

    try:
        config = load(config_path)
    except ConfigError as exc:
        return f"UNKNOWN: invalid config {config_path}: {'; '.join(exc.problems)}", UNKNOWN
    try:
        state = read_state(_state_file(config))
    except StateUnreadableError as exc:
        return f"UNKNOWN: {config.app.name}: {exc}", UNKNOWN
    if state is None:
        elsewhere = _elsewhere(config, config_path)
        if elsewhere is not None:
            return f"UNKNOWN: {config.app.name}: {elsewhere}", UNKNOWN
    now = time.time()
    ours = state is not None and pid_is_ours(state)
    host_alerts = config.resources.host.alert
    verdict = assess(state, now, ours, host_alerts=host_alerts)
    # A sick app is the watchdog's to restart; only a watchdog that is gone or hung is the
    # orchestrator's, and restarting the container then is the cure.
    code = liveness(state, now, ours) if liveness_only else verdict.code
    if as_json:
        verdict_data = {"code": verdict.code, "label": verdict.label, "summary": verdict.summary}
        document = {**(state or {}), "verdict": {**verdict_data, "reasons": list(verdict.reasons)}}
        return json.dumps(document, indent=2, default=str), code
    lines = render(state, verdict, now, app=config.app.name, host_alerts=host_alerts)
    if state is not None and verdict.code != UNKNOWN:
        lines += [(row, "") for row in history_rows(_recent_samples(config, state))]
    # Colour is stripped by click.echo off a terminal; NO_COLOR drops it at one too.
    if os.environ.get("NO_COLOR"):
        return "\n".join(text for text, _ in lines), code
    return "\n".join(click.style(text, fg=colour or None) for text, colour in lines), code


def _recent_samples(config: Config, state: dict[str, Any]) -> list[dict[str, Any]]:
    """The history file's samples, then the state file's newer ones (the history file is
    rewritten every few seconds, the state file at every turn)."""
    from watchdog.outputs.files import history_path

    try:
        data = json.loads(history_path(config.state.dir, config.app.name).read_text("utf-8"))
        stored = data["samples"]
    except (OSError, ValueError, TypeError, KeyError):
        stored = []
    latest = state.get("history")
    seen: set[str] = set()
    samples = []
    for sample in [*_listed(stored), *_listed(latest)]:
        key = json.dumps(sample, sort_keys=True, default=str)
        if isinstance(sample, dict) and key not in seen:
            seen.add(key)
            samples.append(sample)
    return samples


def _listed(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _elsewhere(config: Config, config_path: Path) -> str | None:
    """No state file here, yet a watchdog of this file may run with an older version of it
    (another state.dir or app.name): say so, and how to bring it here, not 'not running'."""
    from watchdog.cli.control import ElsewhereError, NotRunningError, proven_watchdog
    from watchdog.process.instancelock import lock_path

    try:
        proven_watchdog(lock_path(config.state.dir, config.app.name), config_path)
    except ElsewhereError as exc:
        return str(exc)
    except NotRunningError:
        return None
    return None
