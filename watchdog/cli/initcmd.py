"""`init`: a commented starter config for the user's own app, from its command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from watchdog.cli.common import main


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("watchdog.yaml"),
    show_default=True,
    help="Where to write the config.",
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@click.option(
    "--health-path", default="/health", show_default=True, help="The app's health URL path."
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def init(output: Path, force: bool, health_path: str, command: tuple[str, ...]) -> None:
    """Write a starter config for COMMAND (uvicorn and gunicorn lines get a held socket)."""
    from watchdog.config.starter import recognise, render

    if not health_path.startswith("/"):
        click.echo(
            f"watchdog: --health-path: expected a path starting with /, got {health_path}",
            err=True,
        )
        sys.exit(2)
    if output.exists() and not force:
        click.echo(f"watchdog: {output} exists; --force overwrites it", err=True)
        sys.exit(1)
    starter = recognise(list(command), health_path)
    here, there = Path.cwd().resolve(), output.resolve().parent
    cwd = "." if here == there else os.fspath(here)  # app.cwd is read from the file's directory
    # O_EXCL: a file that appeared since the check above is not overwritten either.
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        with os.fdopen(os.open(output, flags, 0o640), "w", encoding="utf-8") as stream:
            stream.write(render(starter, cwd))
    except FileExistsError:
        click.echo(f"watchdog: {output} exists; --force overwrites it", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"watchdog: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    if starter.server is not None:
        what = f"{starter.server} behind a held socket on {starter.listen}"
    else:
        what = "the bundled demo" if not command else "a plain command"
    click.echo(f"watchdog: wrote {output} ({what}); health.url {starter.url}")
    if starter.note:
        click.echo(f"watchdog: not a held socket: {starter.note}")
    if starter.placeholder:
        click.echo(
            "watchdog: EDIT health.url in it: a placeholder, not your app's health URL", err=True
        )
    click.echo(f"watchdog: next: watchdog check --config {output}")
