"""An app that ages with the work it does, as an API that slows down after a day of uptime.

Off unless set through the environment, so the apps behave as before:
  SLOWER_BY         seconds: each request this process serves makes the next ones slower
                    by this much (the n-th answer waits n x SLOWER_BY)
  LEAK_PER_REQUEST  bytes kept, touched, for every request this process serves
It degrades with requests served, not with wall time, and per process: a gunicorn worker
replaced on HUP starts fresh, as a real one would.
"""

from __future__ import annotations

import itertools
import os

SLOWER_BY = float(os.environ.get("SLOWER_BY", "0"))
LEAK_PER_REQUEST = int(os.environ.get("LEAK_PER_REQUEST", "0"))
ON = SLOWER_BY > 0 or LEAK_PER_REQUEST > 0

_served = itertools.count()  # next() is atomic under the GIL: safe for gthread's threads
_kept: list[bytes] = []


def one_more() -> float:
    """Count a request and keep its leak; return how long it must wait, in seconds."""
    served = next(_served)
    if LEAK_PER_REQUEST:
        # Filled, not zeroed: untouched zero pages would cost no resident memory.
        _kept.append(b"\x01" * LEAK_PER_REQUEST)
    return served * SLOWER_BY
