"""app.user, app.group and app.umask: read, looked up on this host, refused when they cannot be."""

from __future__ import annotations

import os
import pwd
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchdog.config import ConfigError, parse
from watchdog.config.app import AppConfig
from watchdog.config.hostcheck import app_problems
from watchdog.config.identity import Identity, denied, identity

NOBODY = pwd.getpwnam("nobody")
NOT_ROOT = 12345  # a uid and gid of no one


def app_of(tmp_path: Path, **app: object) -> AppConfig:
    return parse({"app": {"command": ["x"], **app}}, tmp_path, python=sys.executable).app


def problems(tmp_path: Path, **app: object) -> list[str]:
    try:
        parse({"app": {"command": ["x"], **app}}, tmp_path, python=sys.executable)
    except ConfigError as exc:
        return list(exc.problems)
    return []


@pytest.mark.parametrize(("written", "mask"), [("027", 0o27), ("0077", 0o77), (" 002 ", 0o2)])
def test_a_umask_is_an_octal_string(tmp_path: Path, written: str, mask: int) -> None:
    assert app_of(tmp_path, umask=written).umask == mask


@pytest.mark.parametrize(("written", "got"), [(23, "23"), ("0o27", '"0o27"'), ("800", '"800"')])
def test_a_umask_that_is_not_one_is_named(tmp_path: Path, written: object, got: str) -> None:
    assert problems(tmp_path, umask=written) == [
        f'app.umask: expected an octal mask like "027" (quoted), got {got}'
    ]


def test_users_and_groups_are_names_or_numbers(tmp_path: Path) -> None:
    app = app_of(tmp_path, user="nobody", group=65534)
    assert (app.user, app.group) == ("nobody", 65534)
    assert app_of(tmp_path, user="65534").user == 65534
    assert problems(tmp_path, user="no body") == [
        'app.user: expected a user name or number, got "no body"'
    ]


def test_as_root_the_child_takes_the_users_ids_and_groups(tmp_path: Path) -> None:
    who, found = identity(app_of(tmp_path, user="nobody"), euid=0, egid=0)
    groups = tuple(os.getgrouplist("nobody", NOBODY.pw_gid))
    assert (who, found) == (Identity(NOBODY.pw_uid, NOBODY.pw_gid, groups), [])
    who, _ = identity(app_of(tmp_path, user="nobody", group="root"), euid=0, egid=0)
    assert (who.uid, who.gid) == (NOBODY.pw_uid, 0)
    assert identity(app_of(tmp_path), euid=0, egid=0) == (Identity(), [])


def test_without_root_another_user_or_group_is_refused(tmp_path: Path) -> None:
    app = app_of(tmp_path, user="nobody", group="root")
    who, found = identity(app, euid=NOT_ROOT, egid=NOT_ROOT)
    assert who == Identity()
    assert [(key, got) for key, _, got in found] == [
        ("user", f'"nobody" (uid {NOBODY.pw_uid})'),
        ("group", '"root" (gid 0)'),
    ]
    assert all("unless it runs as root" in expected for _, expected, _ in found)
    # Its own user is no change at all: nothing to refuse, nothing to set.
    own = identity(app_of(tmp_path, user="nobody"), euid=NOBODY.pw_uid, egid=NOBODY.pw_gid)
    assert own == (Identity(), [])


def test_an_unknown_user_or_group_is_named(tmp_path: Path) -> None:
    _, found = identity(app_of(tmp_path, user="no-such-user", group="no-such-group"), euid=0)
    assert found == [
        ("user", "a user known to this host", '"no-such-user" (no such user)'),
        ("group", "a group known to this host", '"no-such-group" (no such group)'),
    ]


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every user may search (pytest's own tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


NOBODY_ID = Identity(NOBODY.pw_uid, NOBODY.pw_gid, ())


def test_a_folder_or_program_the_user_may_not_reach_is_found(open_dir: Path) -> None:
    private = open_dir / "private"
    (private / "bin").mkdir(parents=True)
    private.chmod(0o700)
    tool = open_dir / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o711)  # runnable, but a script its interpreter cannot read as nobody
    binary = open_dir / "binary"
    binary.write_bytes(b"\x7fELF")
    binary.chmod(0o711)
    assert denied(str(private / "bin"), NOBODY_ID) == str(private)
    assert denied(str(open_dir), NOBODY_ID) is None
    assert denied(str(tool), NOBODY_ID, run=True) == str(tool)
    assert denied(str(binary), NOBODY_ID, run=True) is None
    link = open_dir / "link"
    link.symlink_to(private / "bin")
    assert denied(str(link), NOBODY_ID) == str(private)
    assert denied(str(private), Identity(0, 0, ())) is None
    assert denied(str(private), Identity()) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may pick another user")
def test_check_refuses_a_cwd_or_command_the_user_may_not_reach(open_dir: Path) -> None:
    private = open_dir / "private"
    private.mkdir(mode=0o700)
    found = app_problems(
        app_of(open_dir, user="nobody", cwd=str(private), command=["/bin/true"]), os.environ
    )
    got = f'"{private}" (denied at {private})'
    assert found == [("cwd", 'a directory "nobody" may enter', got)]
    program = private / "serve"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    found = app_problems(app_of(open_dir, user="nobody", command=[str(program)]), os.environ)
    got = f'"{program}" (denied at {private})'
    assert found == [("command", 'a program "nobody" may run', got)]
