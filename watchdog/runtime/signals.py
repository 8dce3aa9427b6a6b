"""The signals a running watchdog answers, and holding them while it cannot yet answer."""

from __future__ import annotations

import signal

# TERM/INT: stop; HUP: reload the config; USR1: restart the child now; USR2: restart it
# when the restart throttle allows.
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def hold() -> None:
    """Keep handled signals pending (not fatal) until `release`, e.g. during start-up."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)


def release() -> None:
    """Deliver pending handled signals to the handlers now installed."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)
