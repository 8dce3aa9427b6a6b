"""Exit statuses decoded the way an operator wants to read them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from watchdog.core.observations import ChildExit
from watchdog.process.exits import decode_exit


def _status_of(code: str) -> int:
    process = subprocess.Popen([sys.executable, "-c", code])
    _, status = os.waitpid(process.pid, 0)
    process.returncode = 0  # reaped here, not by Popen
    return status


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("raise SystemExit(3)", "exit code 3"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", "killed by SIGTERM"),
        (
            "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
            "SIGKILL from outside: perhaps the kernel OOM killer",
        ),
    ],
)
def test_decode_real_wait_status(code: str, expected: str) -> None:
    """A real child's wait status becomes an exit code or a named signal."""
    exit_ = ChildExit.from_wait_status(123, _status_of(code), at=1.0)
    assert decode_exit(exit_.code, exit_.signal) == expected


def test_signal_number_kept() -> None:
    """The signal number is kept for machines as well as the text for people."""
    status = _status_of("import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    exit_ = ChildExit.from_wait_status(1, status, at=0.0)
    assert (exit_.code, exit_.signal) == (None, signal.SIGTERM)
