"""The environment the watchdog hands on: its own, less what it speaks to systemd with."""

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
