"""The man page, generated from the click commands so that it cannot drift from them.

    python -m watchdog.cli.manpage            # print it
    python -m watchdog.cli.manpage --write    # write man/watchdog.1
    man -l man/watchdog.1

No date in it: the same CLI always gives the same page, so a test can compare the
committed page with what the CLI generates now.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from watchdog import __version__

PAGE = Path(__file__).resolve().parents[2] / "man" / "watchdog.1"

EXIT_STATUS = (
    ("run", "0 stopped by SIGTERM or SIGINT; 1 an internal error; 2 nothing was started (a bad"
     " config, an unwritable log directory, an address or port in use, another watchdog of"
     " this app); 3 a crash loop with crash_loop.action exit."),
    ("status", "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, as a Nagios/Icinga plugin; with"
     " --liveness 0 unless the watchdog itself is gone or hung (3)."),
    ("check", "0 the config is valid; 2 it is not, each problem named on stderr."),
    ("restart, reload", "0 done; 1 not done, said why on stderr; 2 a bad config (for reload: the"
     " new one is invalid and the old one stays in force); 3 no watchdog of this app runs."),
    ("stop, start", "0 done, or nothing to do; 1 refused (a restart under way), failed or no"
     " outcome in time, said why on stderr; 2 a bad config; 3 no watchdog of this app runs."),
    ("init", "0 written; 1 the file exists (no --force) or cannot be written; 2 a bad"
     " --health-path."),
    ("logs, restarts", "0 shown; 1 nothing to show, or a file that cannot be read; 2 a bad"
     " config."),
)
SIGNALS = (
    ("SIGTERM, SIGINT", "stop the app's whole tree gracefully, then exit 0."),
    ("SIGHUP", "reload the config file; an invalid one is logged and the old one kept."),
    ("SIGUSR1", "restart the app now (as restart --force)."),
    ("SIGUSR2", "restart the app when the throttle allows (as restart)."),
    ("SIGRTMIN+1", "stop the app and keep it stopped (as stop)."),
    ("SIGRTMIN+2", "start it again after a stop (as start)."),
)
ENVIRONMENT = (
    ("NO_COLOR", "set and not empty: no colour, even at a terminal (https://no-color.org)."),
    ("_WATCHDOG_COMPLETE", "bash_source, zsh_source or fish_source: print the shell completion"
     " script (click's), e.g. eval \"$(_WATCHDOG_COMPLETE=bash_source watchdog)\"."),
)


def _escaped(text: str) -> str:
    """Text as roff reads it literally: backslashes and hyphens escaped, no line starting
    with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(
        "\\&" + line if line.startswith((".", "'")) else line for line in text.splitlines()
    )


def _paragraphs(text: str | None) -> list[str]:
    """A docstring as roff paragraphs: its indentation gone, blank lines between them."""
    blocks = [" ".join(block.split()) for block in inspect.cleandoc(text or "").split("\n\n")]
    lines: list[str] = []
    for block in (block for block in blocks if block):
        lines += [".PP", _escaped(block)] if lines else [_escaped(block)]
    return lines


def _commands(group: click.Group, ctx: click.Context, prefix: str) -> Iterator[
    tuple[str, click.Command, click.Context]
]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        path = f"{prefix} {name}"
        sub = click.Context(command, info_name=name, parent=ctx, **command.context_settings)
        yield path, command, sub
        if isinstance(command, click.Group):
            yield from _commands(command, sub, path)


def _options(command: click.Command, ctx: click.Context, with_help: bool = False) -> list[str]:
    """Each option with its help; --help itself once, under the main command's options."""
    lines = []
    for param in command.get_params(ctx):
        if set(param.opts) <= set(ctx.help_option_names) and not with_help:
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        opts, help_text = record
        lines += [".TP", f"\\fB{_escaped(opts)}\\fR", _escaped(help_text or "")]
    return lines


def _pairs(title: str, rows: tuple[tuple[str, str], ...]) -> list[str]:
    lines = [f".SH {title}"]
    for name, text in rows:
        lines += [".TP", f"\\fB{_escaped(name)}\\fR", _escaped(text)]
    return lines


def render(group: click.Group, name: str = "watchdog") -> str:
    """The page of `group` and every command under it, in roff (man(7))."""
    root = click.Context(group, info_name=name, **group.context_settings)
    lines = [
        f'.TH {name.upper()} 1 "" "{name} {__version__}" "User Commands"',
        ".SH NAME",
        f"{name} \\- {_escaped(group.help or '').splitlines()[0]}",
        ".SH SYNOPSIS",
        f"\\fB{name}\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        *_paragraphs(group.help),
        ".SH OPTIONS",
        *_options(group, root, with_help=True),
        ".SH COMMANDS",
    ]
    for path, command, ctx in _commands(group, root, name):
        usage = " ".join(_escaped(piece) for piece in command.collect_usage_pieces(ctx))
        lines += [
            ".SS " + _escaped(path.removeprefix(f"{name} ")),
            f"\\fB{_escaped(path)}\\fR {usage}",
            ".PP",
            *_paragraphs(command.help),
            *_options(command, ctx),
        ]
    lines += _pairs("EXIT STATUS", EXIT_STATUS)
    lines += _pairs("SIGNALS", SIGNALS)
    lines += _pairs("ENVIRONMENT", ENVIRONMENT)
    see_also = "\\fBwatchdog \\fICOMMAND\\fB \\-\\-help\\fR, and the project's README.md and docs/."
    lines += [".SH SEE ALSO", see_also]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    from watchdog.cli import main as cli

    page = render(cli)
    if argv == ["--write"]:
        PAGE.parent.mkdir(exist_ok=True)
        PAGE.write_text(page, encoding="utf-8")
        print(f"wrote {PAGE}")
    elif not argv:
        sys.stdout.write(page)
    else:
        print("usage: python -m watchdog.cli.manpage [--write]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
