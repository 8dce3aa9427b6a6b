"""What the shell holds between commands: the config in force, the live children, the held
socket and lock, the outputs, and how a reload is read and applied."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from watchdog.config import Config, ConfigError
from watchdog.core.facts import ConfigRead, Reconfigured
from watchdog.core.observations import ChildExit
from watchdog.diagnostics.postmortem import Postmortem
from watchdog.outputs.bus import Bus
from watchdog.outputs.files import history_path
from watchdog.outputs.history import History
from watchdog.outputs.hub import Outputs
from watchdog.outputs.logfiles import prepare_log_dir
from watchdog.outputs.logs import Events, LogDirError, LogOutput
from watchdog.outputs.statefile import state_path
from watchdog.process.child import Child
from watchdog.process.heldsocket import socket_inode
from watchdog.process.instancelock import InstanceLock, LockHeldError, lock_path
from watchdog.process.leftovers import instance_mark
from watchdog.process.tree import SETTLE_WAIT
from watchdog.sensors.portowner import AnswerCheck
from watchdog.sensors.probe import Prober

READ_TIMEOUT = 10.0  # a config file that takes longer to read (a FIFO, a hung mount) fails


class Shell:
    def __init__(
        self,
        config: Config,
        events: Events,
        reload_config: Callable[[], Config],
        reopen_events: Callable[[Config], Events],
        *,
        clock: Callable[[], float],
        lock: InstanceLock | None,
        config_file: Path,
    ) -> None:
        self.config = config
        self._reload_config = reload_config
        self._reopen_events = reopen_events
        self.clock = clock
        self.lock = lock
        self.config_file = config_file
        self.children: dict[int, Child] = {}
        self.listener: socket.socket | None = None
        self.answers: AnswerCheck | None = None
        self.tree_pids: tuple[int, ...] = ()  # as the last sample found them
        self.tree_generation: int | None = None  # whose tree that was
        self.bus = Bus(clock)
        self.logs = LogOutput(events)
        self.bus.subscribe(self.logs)  # first: an event is in the log before anything acts on it
        self.ops = Outputs(config, self.emit, clock, bus=self.bus)
        self.history = History(
            config.state.dir, config.app.name, config.resources.history_size, self.emit
        )
        self.bus.subscribe(self.history)
        self.postmortem = Postmortem(config.diagnostics, config.app.name, clock)
        self.bus.subscribe(self.postmortem)
        self.prober = self.new_prober()
        self.watched: int | None = None  # the generation probed and cap-checked
        self.probing: asyncio.Task[None] | None = None
        self.start_probes: Callable[[int, float, float], asyncio.Task[None]] | None = None
        self._closing: set[asyncio.Task[None]] = set()  # a reload's old prober, alerter
        self.reloaded = asyncio.Event()  # set by each reload that took effect

    def emit(
        self, event: str, /, *, level: str = "info", category: str = "main", **fields: Any
    ) -> None:
        """One event onto the bus: the logs, the state file, alerts, metrics, sd_notify."""
        self.bus.emit(event, level, category, **fields)

    def output_sink(self, generation: int) -> Callable[[str, list[str]], None]:
        def sink(stream: str, lines: list[str]) -> None:
            self.bus.output(generation, stream, lines)

        return sink

    def mark(self) -> str:
        return instance_mark(self.config.app.name, self.config_file)

    def new_prober(self) -> Prober:
        listen = self.config.app.listen
        unix_socket = str(listen.path) if listen and listen.path else None
        return Prober(self.config.health, self.clock, unix_socket=unix_socket)

    def new_answer_check(self) -> AnswerCheck | None:
        listen = self.config.app.listen
        if listen is not None and listen.path is not None:
            return None  # probed through the held unix socket: nobody else can answer
        held = socket_inode(self.listener) if self.listener is not None else None
        return AnswerCheck(self.config.health.url, held)

    def watch(self, generation: int, delay: float, every: float) -> None:
        """Probe `generation` (and cap-check its tree) from now on, at that pace."""
        self.unwatch()
        self.watched = generation
        if self.start_probes is not None:
            self.probing = self.start_probes(generation, delay, every)

    def unwatch(self) -> None:
        self.watched = None
        if self.probing is not None:
            self.probing.cancel()
            self.probing = None

    # -- reload -----------------------------------------------------------------------

    async def read_config(self) -> ConfigRead:
        """The config file read again in a thread of its own, bounded in time."""
        result: list[Config | BaseException] = []
        done = asyncio.get_running_loop().create_future()

        def read() -> None:
            try:
                result.append(self._reload_config())
            except BaseException as exc:  # noqa: BLE001 - handed over to the loop
                result.append(exc)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

        loop = asyncio.get_running_loop()
        # A daemon thread, not the default executor: a read stuck on a FIFO must not keep
        # the watchdog from exiting (asyncio.run joins its executor without a time limit).
        threading.Thread(target=read, name="watchdog-reload", daemon=True).start()
        now = self.clock
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                await done
        except TimeoutError:
            return ConfigRead(None, (f"the config was not read within {READ_TIMEOUT:g}s",), now())
        outcome = result[0]
        if isinstance(outcome, ConfigError):
            return ConfigRead(None, tuple(str(outcome).splitlines()), now())
        if isinstance(outcome, BaseException):
            why = f"{type(outcome).__name__}: {outcome}"
            return ConfigRead(None, (f"the config could not be read ({why})",), now())
        return ConfigRead(outcome, (), now())

    def reconfigure(self, new: Config) -> Reconfigured:
        """What a reload changes in the shell; anything that can fail is done first, so a
        failure leaves the old config in force everywhere."""
        old = self.config
        lock: InstanceLock | None = None
        try:
            if new.state.dir != old.state.dir:
                shared = new.state.dir == new.logging.dir
                prepare_log_dir(new.state.dir, "logging.dir" if shared else "state.dir")
            lock = self._moved_lock(new)
            relog = new.logging != old.logging or new.app.name != old.app.name
            events = self._reopen_events(new) if relog else None
        except (LogDirError, LockHeldError, OSError) as exc:
            if lock is not None:
                lock.release()
            return Reconfigured(tuple(str(exc).splitlines()), self.clock())
        if lock is not None and self.lock is not None:
            self.lock.release()
            self.lock = lock
        self.config = new
        if events is not None:
            self.logs.events = events
        self.postmortem.config, self.postmortem.app_name = new.diagnostics, new.app.name
        self.history.resize(new.resources.history_size)
        moved = history_path(new.state.dir, new.app.name) != self.history.path
        if moved:
            self._leave(old)
        self.history.path = history_path(new.state.dir, new.app.name)
        # Now, not in the background: the answer to this very reload is written there.
        self.ops.state.path = state_path(new.state.dir, new.app.name)
        self._in_background(self.ops.reconfigure(old, new))
        if new.health != old.health:
            self.answers = self.new_answer_check()
            self._in_background(self.prober.aclose())
            self.prober = self.new_prober()
        self.reloaded.set()
        return Reconfigured((), self.clock())

    def _leave(self, old: Config) -> None:
        """The state and history files of the old place go: a state file left there would
        say, until it went stale, that a watchdog runs there."""
        for path in (
            state_path(old.state.dir, old.app.name),
            history_path(old.state.dir, old.app.name),
        ):
            with contextlib.suppress(OSError):
                path.unlink()

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _moved_lock(self, new: Config) -> InstanceLock | None:
        """A new app.name or state.dir moves the one-watchdog lock: taken there first."""
        if self.lock is None:
            return None
        path = lock_path(new.state.dir, new.app.name)
        if path == self.lock.path:
            return None
        lock = InstanceLock(path)
        lock.acquire()
        return lock

    def release_lock(self) -> None:
        if self.lock is not None:
            self.lock.release()


async def settle(child: Child) -> ChildExit | None:
    """The child's exit status once reaped, after its output is drained; bounded."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETTLE_WAIT):
            await asyncio.gather(*(pump.closed for pump in child.pumps))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETTLE_WAIT):
            return await asyncio.shield(child.exited)
    return None
