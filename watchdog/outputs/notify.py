"""sd_notify: telling systemd we are ready, reloading, stopping, and still alive.

The protocol is one datagram per message on the AF_UNIX socket named by $NOTIFY_SOCKET
("@name" is the abstract namespace). No socket, no messages: outside systemd this is
silent. A failed send is never an error of supervision.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping


def _address(value: str | None) -> str | None:
    if not value or not (value.startswith("/") or value.startswith("@")):
        return None  # vsock: and other transports are not spoken here
    return "\0" + value[1:] if value.startswith("@") else value


def ping_interval(environ: Mapping[str, str]) -> float | None:
    """Half of $WATCHDOG_USEC, as sd_watchdog_enabled advises; None when not asked for."""
    pid = environ.get("WATCHDOG_PID")
    if pid is not None and pid != str(os.getpid()):
        return None  # meant for another process
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


class Notifier:
    """Sends sd_notify messages when systemd asked for them, silently otherwise."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        self._address = _address(environ.get("NOTIFY_SOCKET"))
        self.ping_interval = ping_interval(environ) if self._address else None
        self._socket: socket.socket | None = None
        self._last_status: str | None = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *assignments: str) -> bool:
        if self._address is None:
            return False
        message = "\n".join(assignments).encode("utf-8", "replace")
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
                self._socket.setblocking(False)
            self._socket.sendto(message, self._address)
        except OSError:
            return False  # systemd gone or busy: the next message may get through
        return True

    def status(self, line: str) -> None:
        """STATUS= for `systemctl status`, sent only when it changed."""
        line = " ".join(line.split())  # one line, as systemd shows it
        if line != self._last_status and self.send(f"STATUS={line}"):
            self._last_status = line

    def ready(self) -> bool:
        return self.send("READY=1")

    def reloading(self) -> None:
        # notify-reload units need MONOTONIC_USEC to tell this reload from an older one.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def ping(self) -> None:
        self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None


class Heartbeat:
    """Whether the supervising loop still turns: only then may systemd be told we are alive.

    The loop beats on every turn. Nothing it awaits holds it up (a stop, a snapshot and a
    reload's read run as tasks beside it), so a loop that has not turned within the
    tolerance is stuck, and the pings stop: systemd then kills and restarts us.
    """

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self._last: float | None = None

    def beat(self, now: float) -> None:
        self._last = now

    def alive(self, now: float) -> bool:
        return self._last is not None and now - self._last <= self.tolerance
