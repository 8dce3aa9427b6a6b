"""The app section checked against this host: its directory and its program are there.

Parse is pure; these checks read the file system, so `check`, `run` and a reload ask for
them (load(..., check_host=True)) and the commands that only read logs or state do not:
an app whose directory vanished still has logs worth reading.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

from watchdog.config.app import AppConfig, HostProblem
from watchdog.config.envfile import EnvFileError, read_env_file
from watchdog.config.identity import Identity, denied, identity
from watchdog.config.reader import show

PATH_SHOWN = 1024  # a path is shown whole: its end is what says where it went wrong


def search_path(app_env: Mapping[str, str], environ: Mapping[str, str]) -> str:
    """The PATH the child's command is looked up on: app.env's, else the inherited one."""
    return app_env.get("PATH", environ.get("PATH", os.defpath))


def _candidates(program: str, cwd: Path, path: str) -> list[str]:
    # As exec does it after the child's chdir: a name with a slash is relative to app.cwd,
    # a bare name is tried in each PATH entry in turn (an empty or relative one: app.cwd).
    if "/" in program:
        return [os.path.join(cwd, program)]
    return [os.path.join(cwd, directory, program) for directory in path.split(os.pathsep)]


def _runnable(candidate: str) -> bool:
    return os.path.isfile(candidate) and os.access(candidate, os.X_OK)


def locate(program: str, cwd: Path, path: str) -> str | None:
    """The file exec would run for `program`, or None when there is none."""
    return next((c for c in _candidates(program, cwd, path) if _runnable(c)), None)


def _cwd_problem(cwd: Path) -> HostProblem | None:
    shown = show(str(cwd), PATH_SHOWN)
    try:
        mode = os.stat(cwd).st_mode
    except FileNotFoundError:
        return "cwd", "an existing directory", f"{shown} (no such directory)"
    except OSError as exc:
        return "cwd", "an existing directory", f"{shown} ({(exc.strerror or str(exc)).lower()})"
    if not stat.S_ISDIR(mode):
        return "cwd", "an existing directory", f"{shown} (not a directory)"
    if not os.access(cwd, os.X_OK):
        return "cwd", "a directory the watchdog may enter", f"{shown} (permission denied)"
    return None


def _command_problem(
    app: AppConfig, environ: Mapping[str, str], from_file: Mapping[str, str]
) -> HostProblem | None:
    program = app.command[0]
    path = search_path({**from_file, **app.env}, environ)
    if locate(program, app.cwd, path) is not None:
        return None
    shown = show(program)
    found = [c for c in _candidates(program, app.cwd, path) if os.path.exists(c)]
    if found and os.path.isdir(found[0]):
        return "command", "an executable program", f"{shown} (a directory: {found[0]})"
    if found:
        return "command", "an executable program", f"{shown} (not executable: {found[0]})"
    if "/" in program:
        where = "" if os.path.isabs(program) else f" in app.cwd {app.cwd}"
        return "command", "an executable program", f"{shown} (no such file{where})"
    source = "app.env's PATH" if "PATH" in app.env else "PATH"
    source = "app.env_file's PATH" if "PATH" in from_file and "PATH" not in app.env else source
    return "command", f"a program found on {source}", f"{shown} (not found)"


def app_problems(app: AppConfig, environ: Mapping[str, str] = os.environ) -> list[HostProblem]:
    """What would stop the app from starting here: (key, expected, got) for each."""
    cwd = _cwd_problem(app.cwd)
    if cwd is not None:
        return [cwd]  # the command is looked up from app.cwd: nothing to say about it yet
    who, problems = identity(app)
    from_file: dict[str, str] = {}
    if app.env_file is not None:
        try:
            from_file = read_env_file(app.env_file)
        except EnvFileError as exc:
            expected = "a readable file of NAME=value lines (systemd EnvironmentFile=)"
            problems.append(("env_file", expected, str(exc)))
    # With shell: true the command is a line for /bin/sh, whose words are its business.
    command = None if app.shell else _command_problem(app, environ, from_file)
    if command is None:
        problems += _refused(app, who, search_path({**from_file, **app.env}, environ))
    return [*problems, *([command] if command is not None else [])]


def _refused(app: AppConfig, who: Identity, path: str) -> list[HostProblem]:
    """What app.user may not do that the app needs: enter app.cwd, run the command, and
    with app.listen run the watchdog's own Python, which hands the held socket over."""
    user = show(app.user if app.user is not None else app.group)
    found: list[HostProblem] = []
    where = denied(str(app.cwd), who)
    if where is not None:
        shown = show(str(app.cwd), PATH_SHOWN)
        found.append(("cwd", f"a directory {user} may enter", f"{shown} (denied at {where})"))
    program = locate(app.command[0], app.cwd, path)
    where = None if program is None else denied(program, who, run=True)
    if program is not None and where is not None:
        shown = show(app.command[0], PATH_SHOWN)
        found.append(("command", f"a program {user} may run", f"{shown} (denied at {where})"))
    where = denied(sys.executable, who, run=True) if app.listen is not None else None
    if where is not None:
        expected = "a user that may run the watchdog's Python (it hands the held socket over)"
        found.append(("user", expected, f"{user} (denied at {where})"))
    return found
