"""app.user, app.group and app.umask: read, looked up on this host, refused when they cannot be."""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path

import pytest

from watchdog.config import ConfigError, parse
from watchdog.config.app import AppConfig
from watchdog.config.identity import Identity, identity

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
