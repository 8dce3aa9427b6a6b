"""The runtime: the one event loop. Facts in, through the controller, commands out.

Signals and child exits only queue a fact; the loop steps the controller with each fact
and carries out what it returns. It is the only place that awaits; no decision is made
here (what to restart, when, how) that the controller's tests do not see.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog import __version__
from watchdog.config import Config
from watchdog.core.bookkeeping import EXIT_INTERNAL_ERROR
from watchdog.core.commands import Exit, WakeAt
from watchdog.core.controller import Controller
from watchdog.core.facts import Booted, Fact, Signalled, TimerFired
from watchdog.outputs.logs import Events
from watchdog.outputs.scrape import MetricsError
from watchdog.process.child import raise_fd_limit
from watchdog.process.heldsocket import ListenError, close_listener
from watchdog.process.instancelock import InstanceLock
from watchdog.process.tree import become_subreaper, stop_tree
from watchdog.runtime import signals, watching
from watchdog.runtime.effects import Effects, resolve
from watchdog.runtime.shell import Shell
from watchdog.runtime.signals import HANDLED_SIGNALS
from watchdog.runtime.startup import PortTakenError, check_ports, clear_the_way, listen

EXIT_CONFIG = 2
HISTORY_SHOWN = 10  # samples in the state file


class Runtime:
    """Keeps one app alive: runs the loop until the controller says Exit."""

    def __init__(
        self,
        config: Config,
        events: Events,
        reload_config: Callable[[], Config],
        reopen_events: Callable[[Config], Events],
        clock: Callable[[], float] = time.monotonic,
        *,
        lock: InstanceLock | None = None,
        config_file: Path = Path("watchdog.yaml"),
    ) -> None:
        self.shell = Shell(
            config,
            events,
            reload_config,
            reopen_events,
            clock=clock,
            lock=lock,
            config_file=config_file.resolve(),
        )
        self.controller = Controller(config)
        self._queue: asyncio.Queue[Fact] = asyncio.Queue()
        self.effects = Effects(self.shell, self._queue.put_nowait)
        self.shell.start_probes = self._start_probes
        self._wake_at: float | None = None
        self._exit_code: int | None = None

    async def run(self) -> int:
        """Supervise until a stop signal or a crash loop; return the process exit code."""
        loop, shell = asyncio.get_running_loop(), self.shell
        for signum in HANDLED_SIGNALS:
            loop.add_signal_handler(signum, self._signalled, signum)
        loop.add_signal_handler(signal.SIGCHLD, watching.reap, shell, self._queue.put_nowait)
        signals.release()  # cli.run held them, so that none sent during start-up was fatal
        shell.emit(
            "watchdog_started",
            pid=os.getpid(),
            version=__version__,
            subreaper=become_subreaper(),
            open_files_limit=raise_fd_limit(),
            url=shell.config.health.url,
        )
        try:
            await shell.ops.start()
            await clear_the_way(shell)
            check_ports(shell)
            listen(shell)
        except (MetricsError, ListenError, PortTakenError) as exc:
            shell.emit("watchdog_failed", level="critical", error=str(exc))
            await shell.ops.aclose(EXIT_CONFIG, self._live())
            self._release(loop)
            return EXIT_CONFIG
        background = [
            asyncio.ensure_future(watching.housekeeping(shell)),
            asyncio.ensure_future(watching.sample_loop(shell, self._queue.put_nowait)),
            asyncio.ensure_future(watching.cap_loop(shell, self._queue.put_nowait)),
        ]
        try:
            # Queued behind any signal that came during start-up: a SIGTERM sent while the
            # leftovers were being stopped must win over the first start.
            self._queue.put_nowait(Booted(shell.clock()))
            while self._exit_code is None:
                self._feed(await self._next())
        except Exception:  # noqa: BLE001
            # A bug of ours must not leave the API unwatched: say so, stop it, exit 1.
            shell.emit("watchdog_failed", level="critical", exc_info=True)
            self._exit_code = EXIT_INTERNAL_ERROR
            await self._stop_everything()
        finally:
            for task in background:
                task.cancel()
            shell.unwatch()
            await self.effects.aclose()
            with contextlib.suppress(Exception):
                await shell.prober.aclose()
            if shell.listener is not None and shell.config.app.listen is not None:
                close_listener(shell.listener, shell.config.app.listen)
            await shell.ops.aclose(self._exit_code or 0, self._live())
            self._release(loop)
        return self._exit_code

    def release_lock(self) -> None:
        self.shell.release_lock()

    def _feed(self, fact: Fact) -> None:
        """Step one fact, and the facts its commands gave at once, in order."""
        pending = [fact]
        while pending:
            for command in self.controller.step(pending.pop(0), self.shell.clock()):
                if isinstance(command, WakeAt):
                    self._wake_at = command.at
                elif isinstance(command, Exit):
                    self._exit_code = command.code
                else:
                    result = self.effects.do(command)
                    if result is not None:
                        pending.append(result)
        self.shell.ops.turn(self._live, self.controller.state.value)
        self.shell.logs.events.turn(self.controller.state.value)

    async def _next(self) -> Fact:
        clock = self.shell.clock
        # Woken at least every wake_every, and when the state file is due: it stays fresh,
        # the heartbeat beats.
        deadline = min(clock() + self.shell.ops.wake_every, self.shell.ops.write_due())
        if self._wake_at is not None:
            deadline = min(deadline, self._wake_at)
        try:
            return await asyncio.wait_for(self._queue.get(), max(0.0, deadline - clock()))
        except TimeoutError:
            return TimerFired(clock(), time_of_day())

    def _signalled(self, signum: int) -> None:
        # Runs on the loop, not in signal context; still only records the fact.
        self._queue.put_nowait(Signalled(signals.name_of(signum), self.shell.clock()))

    def _start_probes(self, generation: int, delay: float, every: float) -> asyncio.Task[None]:
        loop = watching.probe_loop(self.shell, self._queue.put_nowait, generation, delay, every)
        return asyncio.ensure_future(loop)

    def _live(self) -> dict[str, Any]:
        """The controller's view, with wall-clock times, and the latest samples."""
        live = resolve(self.controller.view())
        samples = self.shell.history.recent(HISTORY_SHOWN)
        return {**live, "last_sample": samples[-1] if samples else None, "history": samples}

    async def _stop_everything(self) -> None:
        """After an internal error: stop whatever runs of the app, without the controller."""
        app = self.shell.config.app
        self.shell.emit("watchdog_stopping", state=self.controller.state.value)
        with contextlib.suppress(Exception):
            await stop_tree(None, app.stop_signal, app.stop_timeout, self.shell.clock)
        self.shell.emit("watchdog_stopped", exit_code=self._exit_code)

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        signals.hold()
        for signum in (*HANDLED_SIGNALS, signal.SIGCHLD):
            loop.remove_signal_handler(signum)


def time_of_day() -> float:
    """Seconds since local midnight, for restart.window (the host's own time zone)."""
    local = time.localtime()
    return local.tm_hour * 3600.0 + local.tm_min * 60.0 + local.tm_sec
