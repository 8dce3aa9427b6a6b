"""What every command shares: the group, the --config option, the flags the schema gives,
and reading the config (a bad one exits 2 before anything starts)."""

from __future__ import annotations

import importlib
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


# Each command's module, imported only when that command runs (or help lists them all):
# `run` keeps none of the others resident.
COMMANDS = {
    "check": "supervise",
    "init": "initcmd",
    "logs": "observe",
    "reload": "operate",
    "restart": "operate",
    "restarts": "observe",
    "run": "supervise",
    "start": "appcontrol",
    "status": "observe",
    "stop": "appcontrol",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            # The module's decorators add its commands to this group.
            importlib.import_module(f"watchdog.cli.{COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="watchdog")
def main() -> None:
    """Supervise a web API: start it, probe its health, restart it safely."""


def _fail(message: str) -> NoReturn:
    click.echo(f"watchdog: {message}", err=True)
    sys.exit(1)


def _state_file(config: Config) -> Path:
    from watchdog.outputs.statefile import state_path

    return state_path(config.state.dir, config.app.name)
