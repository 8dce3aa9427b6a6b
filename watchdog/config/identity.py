"""Who the app runs as: app.user and app.group looked up on this host (passwd, group).

Read at `check`, at a reload and at every start of the app: a user removed since the config
was read fails that start, plainly, rather than starting the app as someone else.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass

from watchdog.config.app import AppConfig, HostProblem
from watchdog.config.reader import show


@dataclass(frozen=True, slots=True)
class Identity:
    """What the child's credentials are set to before exec; None leaves the watchdog's."""

    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] | None = None  # the supplementary groups (initgroups)


def _user(value: str | int) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwuid(value) if isinstance(value, int) else pwd.getpwnam(value)
    except KeyError:
        return None


def _group(value: str | int) -> grp.struct_group | None:
    try:
        return grp.getgrgid(value) if isinstance(value, int) else grp.getgrnam(value)
    except KeyError:
        return None


def identity(
    app: AppConfig, euid: int | None = None, egid: int | None = None
) -> tuple[Identity, list[HostProblem]]:
    """The child's credentials, and what stops them being set: (key, expected, got)."""
    euid = os.geteuid() if euid is None else euid
    egid = os.getegid() if egid is None else egid
    problems: list[HostProblem] = []
    user = None if app.user is None else _user(app.user)
    group = None if app.group is None else _group(app.group)
    if app.user is not None and user is None:
        problems.append(("user", "a user known to this host", f"{show(app.user)} (no such user)"))
    if app.group is not None and group is None:
        problems.append(
            ("group", "a group known to this host", f"{show(app.group)} (no such group)")
        )
    if problems:
        return Identity(), problems
    uid = None if user is None else user.pw_uid
    gid = group.gr_gid if group is not None else (None if user is None else user.pw_gid)
    if euid != 0:
        # Without root the credentials cannot change: the watchdog's own are all there is.
        if uid is not None and uid != euid:
            problems.append(
                ("user", f"the watchdog's own user ({_name(euid)}) unless it runs as root",
                 f"{show(app.user)} (uid {uid})"),
            )
        if group is not None and group.gr_gid != egid:
            problems.append(
                ("group", f"the watchdog's own group ({_group_name(egid)}) unless it runs as root",
                 f"{show(app.group)} (gid {group.gr_gid})"),
            )
        return Identity(), problems
    groups = None if user is None else tuple(os.getgrouplist(user.pw_name, gid or user.pw_gid))
    return Identity(uid, gid, groups), problems


def _name(uid: int) -> str:
    found = _user(uid)
    return found.pw_name if found is not None else str(uid)


def _group_name(gid: int) -> str:
    found = _group(gid)
    return found.gr_name if found is not None else str(gid)


def denied(path: str, who: Identity, *, run: bool = False) -> str | None:
    """Where `who` is refused on the way to `path` (every folder searched, and `path` itself
    entered, or run when `run`): the first such path, or None. Mode bits only: an ACL or a
    capability may allow more, never less, so a path found here is refused indeed."""
    if who.uid in (None, 0):
        return None
    groups = {who.gid, *(who.groups or ())} - {None}
    real = os.path.realpath(path)
    steps = [*_folders(path), *_folders(real), real]
    for step in dict.fromkeys(steps):
        try:
            info = os.stat(step)
        except OSError:
            continue  # a missing path is the existence check's to report
        bits = 6 if info.st_uid == who.uid else 3 if info.st_gid in groups else 0
        if not (info.st_mode >> bits) & 1:  # the x bit of the class `who` falls in
            return step
    if run and not _readable_script(real, who, groups):
        return real
    return None


def _folders(path: str) -> list[str]:
    parts = os.path.abspath(path).split(os.sep)[1:-1]
    return [os.sep + os.sep.join(parts[:depth]) for depth in range(len(parts) + 1)]


def _readable_script(path: str, who: Identity, groups: set[int | None]) -> bool:
    """A script is read by its interpreter as `who`; a binary needs only its x bit."""
    try:
        info = os.stat(path)
        with open(path, "rb") as handle:
            script = handle.read(2) == b"#!"
    except OSError:
        return True
    if not script:
        return True
    bits = 6 if info.st_uid == who.uid else 3 if info.st_gid in groups else 0
    return bool((info.st_mode >> (bits + 2)) & 1)
