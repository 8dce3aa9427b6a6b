"""The overlap restart's one wait: until the new child takes connections from the held socket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from watchdog.core.units import format_duration
from watchdog.process.child import Child
from watchdog.process.exits import decode_exit
from watchdog.process.heldsocket import accepting
from watchdog.process.tree import tree_of

ACCEPT_POLL = 0.05  # seconds between looks at the new child's tree


async def until_accepting(
    child: Child,
    inode: int,
    timeout: float,
    clock: Callable[[], float],
    stopping: Callable[[], bool],
) -> str | None:
    """None once `child` waits for connections on the socket; otherwise why it never did.

    Until then the old child has the socket to itself, so nothing is lost by waiting.
    """
    deadline = clock() + timeout
    while clock() < deadline:
        if child.exited.done():
            exit_ = child.exited.result()
            return f"the new child exited while starting ({decode_exit(exit_.code, exit_.signal)})"
        if stopping():
            return "the watchdog is stopping"
        if accepting(tree_of(child.pid), inode):  # a few /proc reads: well under 1 ms
            return None
        await asyncio.sleep(ACCEPT_POLL)
    return (
        f"the new child was not accepting connections within health.startup_timeout"
        f" ({format_duration(timeout)})"
    )
