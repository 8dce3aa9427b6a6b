"""`watchdog init`: a starter config for the user's own app, from its command line.

Pure: a command line in, what it serves and the commented YAML out. uvicorn and gunicorn
command lines are recognised: the address they bind becomes the socket the watchdog holds
(app.listen), uvicorn is given `--fd {fd}` in place of its host and port, and gunicorn
loses its bind (it finds the socket through LISTEN_FDS by itself; a bind on top makes it
take the socket twice and die at boot).
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from dataclasses import dataclass
from pathlib import PurePath

DEMO = ["{python}", "-m", "watchdog.demo", "--port", "8000"]
PLACEHOLDER_URL = "http://127.0.0.1:8000/health"
UVICORN_DEFAULT = ("127.0.0.1", 8000)  # what uvicorn and gunicorn bind when not told
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


@dataclass(frozen=True, slots=True)
class Starter:
    """What `init` makes of a command line."""

    server: str | None  # "uvicorn", "gunicorn", or None: a command not recognised
    command: list[str]
    listen: str | None  # app.listen, when the watchdog holds the socket
    url: str
    name: str = "api"
    note: str | None = None  # why a uvicorn/gunicorn line was not taken as one

    @property
    def placeholder(self) -> bool:
        """Whether health.url is a guess the user must edit."""
        return self.server is None and self.command != DEMO


def recognise(words: list[str], health_path: str = "/health") -> Starter:
    """The starter for `words` (the app's command line; empty: the bundled demo)."""
    if len(words) == 1 and " " in words[0].strip():
        words = shlex.split(words[0])  # given as one quoted string
    if not words:
        return Starter(None, list(DEMO), None, "http://127.0.0.1:8000/health")
    start = _server_start(words)
    if start is None:
        return Starter(None, list(words), None, PLACEHOLDER_URL)
    server, index = start
    head, args = words[: index + 1], words[index + 1 :]
    try:
        found = _uvicorn(args) if server == "uvicorn" else _gunicorn(args)
    except ValueError as exc:
        return Starter(None, list(words), None, PLACEHOLDER_URL, note=f"{server}: {exc}")
    address, rest = found
    if server == "uvicorn":
        rest = [*rest, "--fd", "{fd}"]
    return Starter(
        server,
        [*head, *rest],
        address,
        _health_url(address, health_path),
        name=_name(rest),
    )


def _server_start(words: list[str]) -> tuple[str, int] | None:
    """("uvicorn"|"gunicorn", the index of the word naming it), for `uvicorn ...`,
    `/venv/bin/gunicorn ...` or `python -m uvicorn ...`."""
    first = PurePath(words[0]).name
    if first in ("uvicorn", "gunicorn"):
        return first, 0
    module = len(words) > 2 and words[1] == "-m" and words[2] in ("uvicorn", "gunicorn")
    if first.startswith("python") and module:
        return words[2], 2
    return None


def _option(args: list[str], index: int, long: str, short: str | None) -> tuple[str, int] | None:
    """(value, words taken) when args[index] is `long VALUE`, `long=VALUE`, `short VALUE`
    or `shortVALUE`; None when it is another word."""
    word = args[index]
    if word.startswith(long + "="):
        return word.removeprefix(long + "="), 1
    if word == long or (short is not None and word == short):
        if index + 1 >= len(args):
            raise ValueError(f"{word} without a value")
        return args[index + 1], 2
    if short is not None and word.startswith(short) and not word.startswith("--"):
        return word.removeprefix(short), 1
    return None


def _uvicorn(args: list[str]) -> tuple[str, list[str]]:
    """The address a uvicorn command line binds, and its other arguments."""
    host, port = UVICORN_DEFAULT
    uds: str | None = None
    rest: list[str] = []
    index = 0
    while index < len(args):
        if args[index] == "--fd" or args[index].startswith("--fd="):
            raise ValueError("it serves a socket it is given already (--fd)")
        for long, short in (("--host", None), ("--port", None), ("--uds", None)):
            found = _option(args, index, long, short)
            if found is not None:
                value, taken = found
                if long == "--host":
                    host = value
                elif long == "--port":
                    if not value.isdigit() or not 0 < int(value) < 65536:
                        raise ValueError(f"--port {value} is not a port number")
                    port = int(value)
                else:
                    uds = value
                index += taken
                break
        else:
            rest.append(args[index])
            index += 1
    if uds is not None:
        return _unix(uds), rest
    return _tcp(host, port), rest


def _gunicorn(args: list[str]) -> tuple[str, list[str]]:
    """The address a gunicorn command line binds, and its arguments without the bind."""
    binds: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        found = _option(args, index, "--bind", "-b")
        if found is None:
            rest.append(args[index])
            index += 1
            continue
        binds.append(found[0])
        index += found[1]
    if len(binds) > 1:
        raise ValueError(f"it binds {len(binds)} addresses; the watchdog holds one")
    if not binds:
        return _tcp(*UVICORN_DEFAULT), rest
    bind = binds[0]
    if bind.startswith("unix:"):
        return _unix(bind.removeprefix("unix:")), rest
    if bind.startswith("fd://"):
        raise ValueError("it serves a socket it is given already (fd://)")
    host, _, port = bind.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--bind {bind} is not HOST:PORT")
    every = "0.0.0.0"  # noqa: S104 - what gunicorn binds for ":PORT"; the user's choice
    return _tcp(host.strip("[]") or every, int(port)), rest


def _tcp(host: str, port: int) -> str:
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"host {host!r} is not an IP address, which app.listen needs") from None
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _unix(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"unix socket {path} is not an absolute path, which app.listen needs")
    return f"unix:{path}"


def _health_url(listen: str, path: str) -> str:
    """Where the probe asks: the bound address, or loopback when it binds every address."""
    if listen.startswith("unix:"):
        return f"http://localhost{path}"  # through the socket; the host is the Host header
    host, _, port = listen.rpartition(":")
    wildcard = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}  # noqa: S104 - not bound here
    return f"http://{wildcard.get(host, host)}:{port}{path}"


def _name(args: list[str]) -> str:
    """app.name from the `module:app` argument (its module), else `api`."""
    for word in args:
        if ":" in word and not word.startswith("-"):
            module = word.partition(":")[0].replace("/", ".")
            name = "".join(c if c in NAME_CHARS else "_" for c in module).strip(".-")
            return name or "api"
    return "api"


def render(starter: Starter, cwd: str = ".") -> str:
    """The commented config: what was made of the command line, and what is left to edit."""
    shown = shlex.join(starter.command)
    lines = [
        f"# watchdog config for: {shown}",
        "# Written by `watchdog init`. Check it with `watchdog check --config <this file>`, run it",
        "# with `watchdog run --config <this file>`. Keys not written here keep their defaults",
        "# (docs/reference/config.md lists every key).",
        "",
        "app:",
        "  # used in log file names and events",
        f"  name: {_yaml(starter.name)}",
        *_command_comment(starter),
        f"  command: {_yaml(starter.command)}",
        "  # working directory of the command",
        f"  cwd: {_yaml(cwd)}",
        "  # stop signal, then this long, then SIGKILL to the whole tree",
        "  stop_timeout: 10s",
    ]
    if starter.listen is not None:
        lines += [
            "  # the address the command bound: the watchdog binds it once and keeps it open",
            "  # across restarts, so connections wait in its backlog instead of being refused",
            f"  listen: {_yaml(starter.listen)}",
        ]
    lines += ["", "health:", *_url_comment(starter), f"  url: {_yaml(starter.url)}"]
    lines += [
        "  # time between probes, and how long one may take",
        "  interval: 60s",
        "  timeout: 5s",
        "  # consecutive failed probes that restart the app",
        "  max_failures: 3",
        "  # a fresh child must answer healthy within this",
        "  startup_timeout: 60s",
        "",
        "restart:",
        "  # at most one restart of a live child per this interval (crashes restart at once)",
        "  min_interval: 5m",
        *_strategy_comment(starter),
        "  strategy: stop_start",
        "",
        "logging:",
        "  # the log files, and the state file `watchdog status` reads",
        "  dir: logs",
        "",
    ]
    return "\n".join(lines)


def _command_comment(starter: Starter) -> list[str]:
    if starter.server == "uvicorn":
        return ["  # uvicorn serves the socket the watchdog holds (fd {fd}) instead of binding one"]
    if starter.server == "gunicorn":
        return [
            "  # gunicorn finds the socket the watchdog holds through LISTEN_FDS: no --bind (with",
            "  # one it would take the socket twice and die at boot); if a gunicorn config file",
            "  # or GUNICORN_CMD_ARGS sets bind, remove it there too",
        ]
    if starter.command == DEMO:
        return ["  # the bundled demo API: replace it with your app's command"]
    given = ["  # your app's command, as given; it binds its own port"]
    if starter.note:
        return [f"  # not taken as a server behind a held socket: {starter.note}", *given]
    return given


def _url_comment(starter: Starter) -> list[str]:
    if starter.placeholder:
        return [
            "  # EDIT THIS: a placeholder. The URL your app answers healthy on (status 200), on",
            "  # the host and port it listens on",
        ]
    return ["  # probed with GET; your app must answer it with status 200 when it is healthy"]


def _strategy_comment(starter: Starter) -> list[str]:
    comment = [
        "  # stop_start: the old child stops, then the new one starts; overlap: the new one",
        "  # starts while the old one serves (needs app.listen)",
    ]
    if starter.server == "gunicorn":
        comment.append("  # (gunicorn: overlap only with gthread or async workers, not sync)")
    return comment


def _yaml(value: str | list[str]) -> str:
    """A YAML scalar or flow list: JSON is YAML, and quotes every word that needs it."""
    return json.dumps(value, ensure_ascii=False)
