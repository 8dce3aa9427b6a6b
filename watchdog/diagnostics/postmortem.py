"""What the runtime keeps so that every restart can say why: the child's last output, the
OOM-kill count at its start, and the snapshot taken before a kill."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from watchdog.config.diagnostics import DiagnosticsConfig
from watchdog.core.observations import ChildExit
from watchdog.process.exits import decode_exit
from watchdog.sensors.cgroup import oom_kill_count

TAILS_KEPT = 2  # the current child's and, during an overlap, the one before


class Postmortem:
    def __init__(
        self, config: DiagnosticsConfig, app_name: str, clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.app_name = app_name
        self._clock = clock
        self._tails: dict[int, deque[str]] = {}
        self._oom_kills: dict[int, int | None] = {}

    def child_started(self, generation: int) -> None:
        self._tails[generation] = deque(maxlen=self.config.output_lines)
        self._oom_kills[generation] = oom_kill_count()
        for old in sorted(self._tails)[:-TAILS_KEPT]:
            self._tails.pop(old, None)
            self._oom_kills.pop(old, None)

    def on_output(self, generation: int, stream: str, lines: Sequence[str]) -> None:
        """The bus's batch of output lines: the last `output_lines` are kept per child."""
        self.output(generation, lines)

    def output(self, generation: int, lines: Sequence[str]) -> None:
        tail = self._tails.get(generation)
        if tail is not None:
            tail.extend(lines)

    def describe_exit(
        self, generation: int, exit_: ChildExit, sigkilled_by_us: bool = False
    ) -> str:
        """Exit code or signal, and for a SIGKILL nobody here sent, whether the kernel's OOM
        killer did it (the cgroup's oom_kill counter rose since the child started)."""
        before = self._oom_kills.get(generation)
        after = oom_kill_count() if before is not None and not sigkilled_by_us else None
        return decode_exit(exit_.code, exit_.signal, sigkilled_by_us, before, after)

    async def snapshot(
        self,
        generation: int,
        pids: Sequence[int],
        reason: str,
        *,
        history: Sequence[Mapping[str, Any]],
        levels: Mapping[str, Any],
        trend: Mapping[str, Any] | None,
        exit_info: Mapping[str, Any] | None = None,
    ) -> Path | None:
        """The snapshot file, or None when diagnostics are off or nothing could be written."""
        config = self.config
        if not config.enabled or config.directory is None:
            return None
        # Imported on the first snapshot: a watchdog that never takes one keeps it out.
        from watchdog.diagnostics.snapshot import capture  # noqa: PLC0415

        return await capture(
            pids,
            reason=reason,
            app_name=self.app_name,
            directory=config.directory,
            timeout=config.timeout,
            output_tail=list(self._tails.get(generation, ())),
            history=history,
            levels=levels,
            trend=trend,
            exit_info=exit_info,
            py_spy=config.py_spy,
            keep=config.keep,
            max_age_days=config.max_age_days,
            clock=self._clock,
        )
