"""Why a child died, for a person: exit codes, signal names, and the OOM killer's counter.

A SIGKILL nobody here sent is most often the kernel's OOM killer. The cgroup the watchdog
(and so its child) lives in counts those kills, in `memory.events` (v2) or
`memory.oom_control` (v1): read before and after, a risen counter turns "perhaps" into "yes".
"""

from __future__ import annotations

import contextlib
import signal as signals
from pathlib import Path

from watchdog.cgroup import CGROUP_ROOT, SELF_CGROUP, _memberships

V2_EVENTS = "memory.events"
V1_OOM_CONTROL = "memory.oom_control"
# What a signal usually means for a Python web app, beyond its name.
SIGNAL_HINTS: dict[int, str] = {
    signals.SIGSEGV: "a crash in native code: an extension module or the interpreter",
    signals.SIGABRT: "aborted: a fatal error in native code or in the interpreter",
    signals.SIGBUS: "a bad memory access, e.g. a memory-mapped file that shrank",
}


def _signal_name(number: int) -> str:
    try:
        return signals.Signals(number).name
    except ValueError:
        return f"signal {number}"


def decode_exit(
    code: int | None,
    signal: int | None,
    sigkilled_by_us: bool = False,
    oom_kills_before: int | None = None,
    oom_kills_after: int | None = None,
) -> str:
    """The exit for a person: code, signal name, and who most likely sent a SIGKILL."""
    if signal is None:
        if code is not None and code > 128 and code - 128 < signals.NSIG:
            # `sh -c` (app.shell) reports a command killed by signal N as exit code 128+N.
            shown = _signal_name(code - 128)
            return f"exit code {code} (128+{code - 128}: how a shell reports a {shown} death)"
        return f"exit code {code}"
    name = _signal_name(signal)
    if signal != signals.SIGKILL:
        hint = SIGNAL_HINTS.get(signal)
        return f"killed by {name} ({hint})" if hint else f"killed by {name}"
    if sigkilled_by_us:
        return f"killed by {name} (sent by the watchdog: the stop timeout ran out)"
    return _from_outside(name, oom_kills_before, oom_kills_after)


def _from_outside(name: str, before: int | None, after: int | None) -> str:
    """A SIGKILL the watchdog did not send: the OOM killer, if the cgroup's counter says so."""
    if before is None or after is None:
        return f"{name} from outside: perhaps the kernel OOM killer"
    if after > before:
        rose = after - before
        return (
            f"{name} from outside: the kernel OOM killer (cgroup oom_kill counter rose by {rose})"
        )
    return (
        f"{name} from outside, not the OOM killer (cgroup oom_kill counter unchanged):"
        " perhaps `kill -9` by a person or another program"
    )


def parse_oom_kill(text: str) -> int | None:
    """The `oom_kill N` line of memory.events (v2) or memory.oom_control (v1)."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            with contextlib.suppress(ValueError):
                return int(value.strip())
    return None  # v1 kernels before 4.13 have no such line


def _group_directory(mount: Path, relative: str) -> Path:
    parts = Path(relative).relative_to("/").parts if relative.startswith("/") else ()
    directory = mount.joinpath(*parts)
    if ".." in parts or not directory.is_dir():
        # As in cgroup.py: without its own cgroup namespace a container lists the host's
        # path, yet has its own group mounted at the root.
        return mount
    return directory


def oom_kill_count(root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> int | None:
    """OOM kills counted in our own cgroup so far, or None where no counter can be read."""
    v2, v1 = _memberships(self_cgroup)
    candidates: list[Path] = []
    if v2 is not None:
        for mount in (root, root / "unified"):  # unified: a hybrid host's v2, beside v1
            if (mount / "cgroup.controllers").is_file():
                candidates.append(_group_directory(mount, v2) / V2_EVENTS)
    if v1 is not None:
        candidates.append(_group_directory(root / "memory", v1) / V1_OOM_CONTROL)
    for path in candidates:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            count = parse_oom_kill(path.read_text())
            if count is not None:
                return count
    return None
