"""The `app` section: what to start, where, with what environment, and how to stop it."""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from watchdog.config.listen import ListenSpec
from watchdog.config.reader import show
from watchdog.config.reading import Reading

# (key, expected, got) for a setting that cannot work on this host, e.g. a missing cwd.
HostProblem = tuple[str, str, str]
HostCheck = Callable[["AppConfig"], list[HostProblem]]
HELD_FD = "3"  # what {fd} in the command stands for: where the held socket is passed


@dataclass(frozen=True, slots=True)
class AppConfig:
    name: str
    command: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]  # where passwords go: a secret
    shell: bool
    stop_signal: signal.Signals
    stop_timeout: float
    listen: ListenSpec | None  # held by the watchdog and passed to every child
    listen_backlog: int
    env_file: Path | None = None  # read at every start: its values are secrets too
    user: str | int | None = None  # the child runs as this user (a root watchdog only)
    group: str | int | None = None
    umask: int | None = None


def app_rules(reading: Reading, python: str, host_check: HostCheck | None) -> None:
    """The command's words; `host_check`, when given, says what would stop it starting here."""
    words = _words(reading)
    if reading["app.listen"] is None and any("{fd}" in word for word in words):
        expected = "app.listen to be set when the command uses {fd}"
        reading.problem("app.command", expected, show(words))
    held = (word.replace("{python}", python).replace("{fd}", HELD_FD) for word in words)
    reading["app.command"] = tuple(held)
    # Only what was read right can be looked for: a bad cwd or PATH would mislead.
    readable = reading.written("app.command") and reading.valid("app.env")
    if host_check and readable and reading.valid("app.shell", "app.command", "app.cwd"):
        app = reading.build("app", {"app": AppConfig})
        for key, expected, got in host_check(app):
            reading.problem(f"app.{key}", expected, got)


def _words(reading: Reading) -> tuple[str, ...]:
    """The words the child is started with: the line run by /bin/sh, or the command's own."""
    command = reading["app.command"]
    if reading["app.shell"]:
        return ("/bin/sh", "-c", command if isinstance(command, str) else "")
    return tuple(command or ())
