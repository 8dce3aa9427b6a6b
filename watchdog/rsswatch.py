"""The quick cap check: the tree's resident memory from /proc, at a fraction of a sample's cost.

A full psutil sample lists every process on the host to find the tree and reads several
files per process; that is too dear to run ten times a second. Here only the pids the
last sample found are read, plus whatever the processes' main threads have forked since
(the kernel's `children` list), one or two small reads each.
"""

from __future__ import annotations

import os
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
