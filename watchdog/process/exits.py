"""Why a child died, for a person: exit codes, signal names, and who sent a SIGKILL.

Pure: the OOM-kill counts it weighs are read by cgroup.oom_kill_count. A SIGKILL nobody
here sent is most often the kernel's OOM killer; a counter that rose turns "perhaps" into
"yes".
"""

from __future__ import annotations

import signal as signals

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
