"""Signalling one worker of the app: only the process sampled, proven to be it."""

from __future__ import annotations

import contextlib
import os
import signal

import psutil


class NotOurs(Exception):  # noqa: N818 - it names the finding, not a failure of ours
    """The process at that pid is not (or no longer) the worker sampled."""


class NotALeaf(Exception):  # noqa: N818
    """The worker has processes of its own: it may be the server's master, started by a
    wrapper that stays (a shell), and ending it would end the whole app."""


def signal_worker(main: int, pid: int, created: float, signum: int) -> None:
    """Send `signum` to `pid` if it is still a direct child of `main` created at `created`.

    A pidfd taken first holds the process between the check and the signal, so a pid that
    is reused meanwhile (the worker exited, another process got its number) is never hit.
    NotOurs when it is not that worker any more, NotALeaf when it has children of its own;
    OSError when the signal could not be sent.
    """
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        raise NotOurs("it has exited") from None
    except (AttributeError, OSError):
        handle = None  # no pidfd here (Linux before 5.3): psutil checks the identity
    try:
        _signal_proven(handle, main, pid, created, signum)
    except (ProcessLookupError, psutil.NoSuchProcess):
        raise NotOurs("it has exited") from None
    except psutil.Error as exc:  # AccessDenied: the one left
        raise PermissionError(f"not allowed to signal pid {pid}") from exc
    finally:
        if handle is not None:
            with contextlib.suppress(OSError):
                os.close(handle)


def prove_worker(main: int, pid: int, created: float) -> None:
    """NotOurs or NotALeaf unless `pid` is still that worker, as signal_worker checks."""
    try:
        _proven(main, pid, created)
    except (ProcessLookupError, psutil.NoSuchProcess):
        raise NotOurs("it has exited") from None
    except psutil.Error as exc:
        raise PermissionError(f"not allowed to look at pid {pid}") from exc


def _proven(main: int, pid: int, created: float) -> psutil.Process:
    process = psutil.Process(pid)
    with process.oneshot():
        identity = (process.create_time(), process.ppid(), process.status())
    if identity[0] != created:
        raise NotOurs(f"pid {pid} now belongs to another process")
    if identity[1] != main:
        raise NotOurs("it is no longer a child of the app's main process")
    if identity[2] == psutil.STATUS_ZOMBIE:
        raise NotOurs("it has exited")
    if process.children():
        raise NotALeaf(
            "it has processes of its own, as the server's master has when a wrapper that"
            " stays (a shell) is the app's main process"
        )
    return process


def _signal_proven(handle: int | None, main: int, pid: int, created: float, signum: int) -> None:
    process = _proven(main, pid, created)
    if handle is not None:
        with contextlib.suppress(PermissionError):  # a filter on the call: psutil's way
            signal.pidfd_send_signal(handle, signum)
            return
    process.send_signal(signum)  # checks the create time again, just before
