"""The signals a running watchdog answers, and holding them while it cannot yet answer."""

from __future__ import annotations

import signal

from watchdog.core.steps.operator import START_SIGNAL, STOP_SIGNAL

# TERM/INT: stop; HUP: reload the config; USR1: restart the child now; USR2: restart it
# when the restart throttle allows; RTMIN+1: stop the app (`watchdog stop`), RTMIN+2:
# start it again (`watchdog start`).
STOP_APP = signal.SIGRTMIN + 1
START_APP = signal.SIGRTMIN + 2
HANDLED_SIGNALS: tuple[int, ...] = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGUSR1,
    signal.SIGUSR2,
    STOP_APP,
    START_APP,
)


def name_of(signum: int) -> str:
    """The name the controller knows a signal by; real-time ones have no Signals member."""
    if signum == STOP_APP:
        return STOP_SIGNAL
    if signum == START_APP:
        return START_SIGNAL
    return signal.Signals(signum).name


def hold() -> None:
    """Keep handled signals pending (not fatal) until `release`, e.g. during start-up."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)


def release() -> None:
    """Deliver pending handled signals to the handlers now installed."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)
