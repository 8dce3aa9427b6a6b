"""The quick cap check: the tree's resident memory from /proc, at a fraction of a sample's cost.

A full psutil sample lists every process on the host to find the tree and reads several
files per process; that is too dear to run ten times a second. Here only the pids the
last sample found are read, plus whatever the processes' main threads have forked since
(the kernel's `children` list), one or two small reads each.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root: int, known: Iterable[int] = ()) -> int:
    """Bytes resident in `root`, its descendants, and `known` (e.g. adopted orphans)."""
    total = 0
    seen: set[int] = set()
    pending = [root, *known]
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * PAGE_SIZE
            with open(f"/proc/{pid}/task/{pid}/children", "rb") as children:
                pending.extend(int(child) for child in children.read().split())
        except (OSError, ValueError, IndexError):
            continue  # gone since; a process that is gone holds no memory
    return total


CAP_CHECK_LONGEST = 1.0  # seconds: the longest a cap check waits, however calm the memory
_RATES_KEPT = 10  # recent growth rates; the fastest of them paces the checks
NEAR_CAP = 0.05  # within this fraction of the cap, every check comes at the quickest pace


class CapPacer:
    """When the next quick cap check is due: soon when the tree is near its cap or growing
    fast, at most every CAP_CHECK_LONGEST when it is neither.

    Ten wake-ups a second cost an idle watchdog more CPU than everything else it does at the
    guide's pace; a leak is stopped just as close to the cap, because the pace follows the
    fastest growth seen lately: the next check comes before that growth could use up half
    of the room left. What this gives up: a sudden jump after a calm second (from no growth
    to R bytes a second) can pass the cap by up to R x CAP_CHECK_LONGEST.
    """

    def __init__(self, shortest: float) -> None:
        self.shortest = shortest
        self._last: tuple[float, int] | None = None
        self._rates: deque[float] = deque(maxlen=_RATES_KEPT)

    def restart(self) -> None:
        """A new child: the old one's growth says nothing about it."""
        self._last = None
        self._rates.clear()

    def next_delay(self, rss: int, cap: int, now: float) -> float:
        if self._last is not None and now > self._last[0]:
            self._rates.append((rss - self._last[1]) / (now - self._last[0]))
        self._last = (now, rss)
        longest = max(self.shortest, CAP_CHECK_LONGEST)
        growth = max(self._rates, default=0.0)
        headroom = cap - rss
        if headroom <= cap * NEAR_CAP:  # growth or not, this close is watched closely
            return self.shortest
        if growth <= 0:
            return longest
        return min(longest, max(self.shortest, headroom / (2 * growth)))
