"""The `app` section: what to start, where, with what environment, and how to stop it."""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from watchdog.config import convert
from watchdog.config.listen import ListenSpec, listen_spec
from watchdog.config.reader import Section, secret_mapping, show

# (key, expected, got) for a setting that cannot work on this host, e.g. a missing cwd.
HostProblem = tuple[str, str, str]
HostCheck = Callable[["AppConfig"], list[HostProblem]]
HELD_FD = "3"  # what {fd} in the command stands for: where the held socket is passed
DURATION = "a positive duration like 30s, 500ms or 5m"


@dataclass(frozen=True, slots=True)
class AppConfig:
    name: str
    command: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(metadata={"secret": True})  # where passwords go
    shell: bool
    stop_signal: signal.Signals
    stop_timeout: float = field(metadata={"duration": True})
    listen: ListenSpec | None = None  # held by the watchdog and passed to every child
    listen_backlog: int = 2048


def parse_app(
    section: Section, base_dir: Path, python: str, host_check: HostCheck | None = None
) -> AppConfig:
    """The app section; `host_check`, when given, says what would stop it starting here."""
    shell = section.take("shell", False, convert.flag, "true or false")
    if shell:
        command = section.take(
            "command", None, convert.nonempty_text, "a command line string (shell: true)"
        )
        words = ("/bin/sh", "-c", command or "")
    else:
        command_words = section.take(
            "command", None, convert.command_words, "a list of arguments or a command line string"
        )
        words = tuple(command_words or ())
    if "command" not in section:
        section.missing("command", "the command that starts the API, e.g. [uvicorn, app.main:app]")
    cwd = section.take("cwd", base_dir.resolve(), convert.path(base_dir), "a directory path")
    listen = section.take(
        "listen",
        None,
        convert.optional(listen_spec),
        "an address like 127.0.0.1:8000 or [::1]:8000, unix:/path/to.sock, or systemd",
    )
    if listen is None and any("{fd}" in word for word in words):
        section.problem("command", "app.listen to be set when the command uses {fd}", show(words))
    env = _parse_env(section)
    app = AppConfig(
        name=section.take("name", "api", convert.name, "a name of letters, digits, '_', '.', '-'"),
        command=tuple(word.replace("{python}", python).replace("{fd}", HELD_FD) for word in words),
        cwd=cwd,
        env=env or MappingProxyType({}),
        shell=shell,
        stop_signal=section.take(
            "stop_signal", signal.SIGTERM, convert.signal_name, "a signal name like TERM"
        ),
        stop_timeout=section.take("stop_timeout", 10.0, convert.positive_duration, DURATION),
        listen=listen,
        listen_backlog=section.take(
            "listen_backlog", 2048, convert.whole(1), "a whole number of at least 1"
        ),
    )
    # Only what was read right can be looked for: a bad cwd or PATH would mislead.
    readable = "command" in section and env is not None
    if host_check and readable and section.valid("shell", "command", "cwd"):
        for key, expected, got in host_check(app):
            section.problem(key, expected, got)
    return app


def _parse_env(app: Section) -> Mapping[str, str] | None:
    """app.env; None when it has a problem."""
    return secret_mapping(
        app, "env", convert.env_name, "variable names without '=' or NUL", convert.env_value
    )
