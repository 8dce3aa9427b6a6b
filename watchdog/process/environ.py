"""What a process is started with: the environment the watchdog hands on (its own, less what
it speaks to systemd with), and how another process's command line is read back."""

from __future__ import annotations

import os

MARK = "WATCHDOG_INSTANCE"  # names the watchdog instance a process was started by
# Ours to speak to systemd with; a child that saw them could confuse the service manager.
PRIVATE_ENV = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    MARK,  # set afresh for every child
)


def public_environ() -> dict[str, str]:
    """os.environ without PRIVATE_ENV: for the app, an alert command, py-spy."""
    return {key: value for key, value in os.environ.items() if key not in PRIVATE_ENV}


COMMAND_SHOWN = 200  # characters of another process's command line in a message


def command_line(pid: int) -> str:
    """A process's command line for a message, shortened; '?' when it cannot be read."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = handle.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return "?"
    text = " ".join(word.decode("utf-8", "replace") for word in words) or "?"
    return text if len(text) <= COMMAND_SHOWN else text[: COMMAND_SHOWN - 3] + "..."
