"""The imperative shell: one event loop feeds facts to the policy and carries out its decisions."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shlex
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from watchdog import __version__, signals
from watchdog.child import (
    SETTLE_WAIT,
    Child,
    SpawnError,
    StopReport,
    app_pids,
    become_subreaper,
    freeze_tree,
    raise_fd_limit,
    reap_all,
    spawn,
    stop_bound,
    stop_tree,
)
from watchdog.config import SECTIONS, Config, ConfigError, HealthConfig
from watchdog.handover import until_accepting
from watchdog.instancelock import InstanceLock, LockHeldError, lock_path
from watchdog.leftovers import find_leftovers, instance_mark, stop_leftovers
from watchdog.levels import LevelChanged
from watchdog.listener import (
    ListenError,
    close_listener,
    open_listener,
    socket_inode,
)
from watchdog.logfiles import prepare_log_dir
from watchdog.logs import Events, LogDirError, clean_logs
from watchdog.messages import CapChecked, Exited, Message, Probed, Sampled, Signalled, Tick
from watchdog.metrics import MetricsError
from watchdog.observations import ChildExit, ProbeResult, Sample
from watchdog.operations import Operations
from watchdog.policy import (
    Decision,
    FailedStart,
    GiveUp,
    Healthy,
    Policy,
    RecommendationWithdrawn,
    RecommendRestart,
    Respawn,
    Restart,
)
from watchdog.portowner import (
    AnswerCheck,
    find_holder,
    listening_inodes,
    open_socket_inodes,
    url_port,
)
from watchdog.postmortem import Postmortem
from watchdog.probe import Prober
from watchdog.report import MEMORY, report_level, report_probe, sample_record, trend_record
from watchdog.resourcepolicy import DiskCritical, MemoryTrend, OverCap
from watchdog.rsswatch import CapPacer, tree_rss
from watchdog.sampler import Sampler
from watchdog.signals import HANDLED_SIGNALS
from watchdog.state import ALIVE_STATES, ChildState, Lifecycle, Trigger
from watchdog.status import history_path, write_json_atomic
from watchdog.units import format_duration

EXIT_OK = 0
EXIT_INTERNAL_ERROR = 1
EXIT_CONFIG = 2
EXIT_CRASH_LOOP = 3
HOUSEKEEPING_INTERVAL = 86400.0  # the guide's daily cleanup_old_logs
CAP_CHECK_SHARE = 0.02  # of one core, at most, for the quick cap checks
NO_CAP_RECHECK = 1.0  # seconds between looks at a config without max_rss
HISTORY_EVERY = 10.0  # seconds between rewrites of the history file (100 samples)
SNAPSHOT_SAMPLES = 20  # the last samples a diagnostic snapshot shows


class PortTakenError(Exception):
    """The app's port is held by a process that is not the app: nothing is started."""


class Supervisor:
    """Keeps one app alive: start it, probe it, restart it when the policy says so."""

    def __init__(
        self,
        config: Config,
        events: Events,
        reload_config: Callable[[], Config],
        reopen_events: Callable[[Config], Events],
        clock: Callable[[], float] = time.monotonic,
        *,
        lock: InstanceLock | None = None,
    ) -> None:
        self.config = config
        self._lock = lock
        self._events = events
        self._reload_config = reload_config
        self._reopen_events = reopen_events
        self._clock = clock
        self._policy = Policy(config.health, config.restart, config.resources)
        self._history: deque[dict[str, object]] = deque(maxlen=config.resources.history_size)
        self._lifecycle = Lifecycle()
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._prober = self._new_prober(config.health)
        self._child: Child | None = None
        self._incoming: Child | None = None  # started alongside the current one (overlap)
        self._listener: socket.socket | None = None
        self._generation = 0
        self._probe_task: asyncio.Task[None] | None = None
        self._respawn_at: float | None = None
        self._down_since: float | None = None
        self._exit_code: int | None = None
        self._stop_requested = False
        self._stopping = asyncio.Event()  # the same, for a wait to be cut short by
        self._history_failing = False
        self._sample_failing = False
        self._tree_pids: tuple[int, ...] = ()  # as the last sample found them
        self._history_at = float("-inf")
        self._ops = Operations(config, self._emit, clock)
        self._postmortem = Postmortem(config.diagnostics, config.app.name, clock)
        self._answers: AnswerCheck | None = None  # set once the held socket (if any) exists
        # An operator's restart answered "restarting": its outcome is told when it is known.
        self._restart_awaited = False

    def _emit(
        self, event: str, /, *, level: str = "info", category: str = "main", **fields: Any
    ) -> None:
        """Log an event, and hand it to every other output (state, alerts, metrics)."""
        self._events(event, level=level, category=category, **fields)
        fields.pop("also", None)
        self._ops.emit(event, level, category, fields)

    def _levels(self) -> dict[str, dict[str, Any]]:
        """Each graded metric's level and last value."""
        rules = self._policy.resources
        metrics = (
            [
                rules.memory,
                rules.cpu,
                rules.response_time,
                rules.error_rate,
                rules.host_memory,
                rules.host_cpu,
                *rules.disks.values(),
            ]
            if rules
            else []
        )
        return {
            m.metric: {"level": m.level.label, "value": m.value}
            for m in metrics
            if m.value is not None
        }

    def _live(self) -> dict[str, Any]:
        """What only the supervisor knows, for the state file and systemd's status line."""
        child = self._child
        pending = self._policy.pending
        return {
            "child": {
                "state": self.state.value,
                "pid": child.pid if child and self._alive() else None,
                "healthy": bool(child and child.healthy and self._alive()),
                "started": child.started_wall if child else None,
            },
            "levels": self._levels(),
            "pending_restart": (
                {"reason": pending.reason, "at": time.time() + pending.at - self._clock()}
                if pending
                else None
            ),
            "last_sample": self._history[-1] if self._history else None,
            "history": list(self._history)[-10:],
        }

    @property
    def state(self) -> ChildState:
        return self._lifecycle.state

    def _new_prober(self, health: HealthConfig) -> Prober:
        listen = self.config.app.listen
        unix_socket = str(listen.path) if listen and listen.path else None
        return Prober(health, self._clock, unix_socket=unix_socket)

    def _listen(self) -> None:
        """With app.listen: the socket every child will serve, made once, kept open."""
        listen = self.config.app.listen
        if listen is not None:
            self._listener = open_listener(listen, self.config.app.listen_backlog)
            name = self._listener.getsockname()
            self._emit(
                "listening", address=str(listen), socket=str(name), fd=self._listener.fileno()
            )
        self._answers = self._new_answer_check()

    def _new_answer_check(self) -> AnswerCheck | None:
        if self.config.app.listen is not None and self.config.app.listen.path is not None:
            return None  # probed through the held unix socket: nobody else can answer
        held = socket_inode(self._listener) if self._listener is not None else None
        return AnswerCheck(self.config.health.url, held)

    def _mark(self) -> str:
        return instance_mark(self.config.app.name, self.config.state.dir)

    async def _stop_leftovers(self) -> None:
        """What an earlier watchdog of this app left running (it was SIGKILLed) goes first."""
        leftovers = find_leftovers(self._mark())
        if not leftovers:
            return
        app = self.config.app
        self._emit(
            "leftovers_found",
            level="warning",
            count=len(leftovers),
            pids=[process.pid for process in leftovers],
            action=f"{app.stop_signal.name}, SIGKILL after {format_duration(app.stop_timeout)}",
        )
        report = await stop_leftovers(leftovers, app.stop_signal, app.stop_timeout)
        self._emit(
            "leftovers_stopped",
            level="error" if report.survivors else "info",
            processes=[f"{pid} {command}" for pid, command in report.stopped],
            sigkilled=report.killed,
            survivors=report.survivors,
        )

    def _check_ports(self) -> None:
        """Before the first start: a stranger on the app's port would answer its probes while
        every child dies of "address already in use"."""
        ports: list[tuple[str, int, set[str]]] = []
        listen = self.config.app.listen
        if listen is not None and listen.port is not None and listen.host is not None:
            ports.append(("app.listen", listen.port, {listen.host}))
        target = url_port(self.config.health.url)
        if target is not None and (listen is None or listen.path is None):
            ports.append(("health.url", *target))
        ours = open_socket_inodes([os.getpid()])  # e.g. a socket systemd passed us
        for key, port, hosts in ports:
            foreign = listening_inodes(port, hosts) - ours
            if foreign:
                holder = find_holder(foreign, exclude=[os.getpid()])
                raise PortTakenError(
                    f"{key}: port {port} is already in use by {holder}, not by the app;"
                    " stop it or choose another port"
                )

    async def run(self) -> int:
        """Supervise until a stop signal or a crash loop; return the process exit code."""
        loop = asyncio.get_running_loop()
        for signum in HANDLED_SIGNALS:
            loop.add_signal_handler(signum, self._signal_received, signum)
        loop.add_signal_handler(signal.SIGCHLD, self._reap)
        signals.release()  # cli.run held them, so that none sent during start-up was fatal
        self._emit(
            "watchdog_started",
            pid=os.getpid(),
            version=__version__,
            subreaper=become_subreaper(),
            open_files_limit=raise_fd_limit(),
            url=self.config.health.url,
        )
        try:
            await self._ops.start()
            await self._stop_leftovers()
            self._check_ports()
            self._listen()
        except (MetricsError, ListenError, PortTakenError) as exc:
            self._emit("watchdog_failed", level="critical", error=str(exc))
            await self._ops.aclose(EXIT_CONFIG, self._live())
            for signum in (*HANDLED_SIGNALS, signal.SIGCHLD):
                loop.remove_signal_handler(signum)
            return EXIT_CONFIG
        housekeeping = asyncio.create_task(self._housekeeping())
        sampling = asyncio.create_task(self._sample_loop())
        capping = asyncio.create_task(self._cap_loop())
        try:
            await self._start_child()
            while self._exit_code is None:
                self._ops.turn(self._live, self.state.value)
                await self._handle(await self._next_message())
                if self._exit_code is None:
                    await self._on_tick()
        except Exception:  # noqa: BLE001
            # A bug of ours must not leave the API unwatched: say so, stop it, exit 1.
            self._emit("watchdog_failed", level="critical", exc_info=True)
            self._exit_code = EXIT_INTERNAL_ERROR
        finally:
            housekeeping.cancel()
            sampling.cancel()
            capping.cancel()
            await self._shutdown()
            signals.hold()
            for signum in (*HANDLED_SIGNALS, signal.SIGCHLD):
                loop.remove_signal_handler(signum)
        return self._exit_code

    async def _next_message(self) -> Message:
        wake = self._clock() + self._ops.wake_every  # state file fresh, heartbeat beating
        deadlines = [self._policy.next_deadline(), self._respawn_at, wake]
        deadline = min((d for d in deadlines if d is not None), default=None)
        timeout = None if deadline is None else max(0.0, deadline - self._clock())
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return Tick()

    async def _handle(self, message: Message) -> None:
        current = self._child.generation if self._child else None
        match message:
            case Signalled(signum, at):
                await self._on_signal(signum, at)
            # Facts about a child we already stopped on purpose are stale: ignore them.
            case Probed(generation, result) if generation == current and self._alive():
                await self._on_probe(result)
            case Exited(generation, exit_) if generation == current and self._alive():
                await self._on_exit(exit_)
            case Sampled(sample):
                await self._on_sample(sample)
            case CapChecked(generation, tree_rss, at) if generation == current and self._alive():
                for decision in self._policy.on_rss(tree_rss, at):
                    await self._carry_out(decision)

    def _alive(self) -> bool:
        return self.state in ALIVE_STATES

    async def _on_tick(self) -> None:
        now = self._clock()
        respawn_due = self._respawn_at is not None and now >= self._respawn_at
        if self.state is ChildState.BACKOFF and respawn_due:
            self._respawn_at = None
            await self._start_child()
        for decision in self._policy.on_tick(now):
            await self._carry_out(decision)

    async def _housekeeping(self) -> None:
        """Once a day, the guide's cleanup_old_logs: rotated files past retention go."""
        while True:
            removed = clean_logs(self.config)
            if removed:
                self._emit("logs_cleaned", removed=removed)
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)

    async def _sample_loop(self) -> None:
        """Every resources.interval: the child's tree and the host, measured with psutil."""
        sampler = Sampler(self.config.resources.disk.paths, self._clock)
        while True:
            await asyncio.sleep(self.config.resources.interval)
            sampler.disk_paths = tuple(self.config.resources.disk.paths)  # a reload may change them
            try:
                sample = sampler.sample()
            except Exception as exc:  # noqa: BLE001 - a bad sample must not end sampling
                if not self._sample_failing:
                    self._emit("sample_failed", level="error", error=repr(exc))
                self._sample_failing = True
                continue
            self._sample_failing = False
            self._queue.put_nowait(Sampled(sample))

    async def _cap_loop(self) -> None:
        """With a max_rss: the tree's RSS from a few /proc reads, paced by how close to the
        cap it is and how fast it grows (every cap_interval at the quickest)."""
        cost, delay, generation = 0.0, 0.0, None
        pacer = CapPacer(self.config.resources.memory.cap_interval)
        while True:
            memory = self.config.resources.memory  # a reload may change both
            if memory.max_rss is None:
                await asyncio.sleep(NO_CAP_RECHECK)  # idle, but a reload may set a cap
                continue
            pacer.shortest = memory.cap_interval
            # A big tree makes each check dearer: keep them under CAP_CHECK_SHARE of a core.
            await asyncio.sleep(max(delay, memory.cap_interval, cost / CAP_CHECK_SHARE))
            child = self._child
            if child is None or not self._alive():
                delay = 0.0
                continue
            if child.generation != generation:
                generation = child.generation
                pacer.restart()
            started = time.process_time()
            rss = tree_rss(child.pid, self._tree_pids)
            cost = time.process_time() - started
            now = self._clock()
            if rss >= memory.max_rss:
                self._queue.put_nowait(CapChecked(child.generation, rss, now))
            delay = pacer.next_delay(rss, memory.max_rss, now)

    async def _on_sample(self, sample: Sample) -> None:
        self._tree_pids = sample.pids
        record = sample_record(sample, self.config.resources.cpu.per_core)
        self._emit("resource_sample", category="performance", also=MEMORY, **record)
        self._history.append({"timestamp": _wall(0.0), **record})
        self._write_history()
        for decision in self._policy.on_sample(sample):
            await self._carry_out(decision)

    def _write_history(self) -> None:
        """The last history_size samples, for other tools; the state file has the latest."""
        now = self._clock()
        if now - self._history_at < HISTORY_EVERY:
            return
        self._history_at = now
        try:
            path = history_path(self.config.state.dir, self.config.app.name)
            write_json_atomic(path, {"samples": list(self._history)})
        except OSError as exc:
            if not self._history_failing:  # once, not every sample
                self._emit("history_write_failed", level="warning", error=str(exc))
            self._history_failing = True
        else:
            if self._history_failing:
                self._emit("history_write_restored")
            self._history_failing = False

    def _signal_received(self, signum: int) -> None:
        # Runs on the loop, not in signal context; a stop request must be seen even by a
        # restart that is already under way, so it is recorded at once as well as queued.
        if signum in (signal.SIGTERM, signal.SIGINT):
            self._stop_requested = True
            self._stopping.set()
        self._queue.put_nowait(Signalled(signum, self._clock()))

    def _reap(self) -> None:
        now = self._clock()
        for pid, status in reap_all():
            child = self._child
            if child is not None and pid == child.pid:
                self._queue.put_nowait(Exited(child.generation, child.record_exit(status, now)))
            elif self._incoming is not None and pid == self._incoming.pid:
                # The overlap's wait sees it; once the new child is current, so does _handle.
                incoming = self._incoming
                self._queue.put_nowait(
                    Exited(incoming.generation, incoming.record_exit(status, now))
                )
            else:
                self._emit("orphan_reaped", level="debug", pid=pid)

    # -- the child's story ---------------------------------------------------------------

    async def _start_child(self) -> None:
        if self._stop_requested:
            return  # a SIGTERM arrived meanwhile (a stop, a crash's clean-up): start nothing
        self._generation += 1
        now = self._clock()
        self._lifecycle.fire(Trigger.SPAWN)
        previous = self._child.pid if self._child else None
        try:
            child = spawn(
                self.config.app,
                self._generation,
                self._output_sink(),
                now,
                self._listener,
                mark=self._mark(),
            )
        except SpawnError as exc:
            self._emit("spawn_failed", level="error", error=str(exc))
            self._restart_outcome("restart_failed", detail=str(exc))
            self._lifecycle.fire(Trigger.EXIT)
            await self._after_crash(self._policy.on_failed_start(str(exc), now))
            return
        self._child = child
        if self._answers is not None:
            self._answers.forget()
        self._policy.child_started(now)
        self._postmortem.child_started(child.generation)
        self._emit(
            "child_started",
            pid=child.pid,
            previous_pid=previous,
            command=shlex.join(self.config.app.command),
        )
        self._probe_task = asyncio.create_task(self._probe_loop(child))

    def _output_sink(self) -> Callable[[str, list[str]], None]:
        generation = self._generation

        def sink(stream: str, lines: list[str]) -> None:
            self._events.child_output(stream, lines, generation)
            self._postmortem.output(generation, lines)

        return sink

    async def _probe_loop(self, child: Child) -> None:
        next_at = self._clock()
        while True:
            await asyncio.sleep(max(0.0, next_at - self._clock()))
            started = self._clock()
            result = self._attributed(await self._prober.probe())
            self._queue.put_nowait(Probed(child.generation, result))
            # Fast polls only until the first healthy answer; then the configured pace.
            fast = not (child.healthy or result.ok)
            health = self.config.health
            next_at = started + (health.startup_interval if fast else health.interval)

    def _attributed(self, result: ProbeResult) -> ProbeResult:
        """An answer counts only if the app gave it: a stranger on the port does not."""
        if result.status is None or self._answers is None:
            return result
        stranger = self._answers.stranger(app_pids())
        if stranger is None:
            return result
        error = f"probe answered by {stranger}, not by the app"
        return dataclasses.replace(result, ok=False, error=error)

    async def _on_probe(self, result: ProbeResult) -> None:
        decisions = self._policy.on_probe(result)
        counted = self.state is ChildState.RUNNING
        report_probe(self._emit, result, counted, self._policy.failures, self.config.health)
        for decision in decisions:
            await self._carry_out(decision)

    async def _carry_out(self, decision: Decision) -> None:
        now = self._clock()
        match decision:
            case Healthy(startup):
                assert self._child is not None
                self._lifecycle.fire(Trigger.HEALTHY)
                self._child.healthy = True
                downtime = None if self._down_since is None else now - self._down_since
                self._down_since = None
                self._emit(
                    "child_healthy",
                    pid=self._child.pid,
                    startup=round(startup, 3),
                    downtime=None if downtime is None else round(downtime, 3),
                )
                self._ops.healthy()  # READY=1 follows the logged fact
                self._restart_outcome("restarted", pid=self._child.pid, startup=round(startup, 3))
            case Restart(reason):
                await self._restart(reason)
            case RecommendRestart(reason, at):
                self._emit(
                    "RESTART_RECOMMENDED",
                    level="warning",
                    category="health",
                    reason=reason,
                    restart_at=_wall(at - now),
                    restart_in=round(at - now, 1),
                )
            case RecommendationWithdrawn(reason):
                self._emit("restart_recommendation_withdrawn", category="health", reason=reason)
            case LevelChanged():
                report_level(self._emit, decision)
            case MemoryTrend():
                self._emit("memory_trend", category="memory", **trend_record(decision))
            case DiskCritical(path, percent):
                self._emit(
                    "disk_critical",
                    level="error",
                    category="health",
                    path=path,
                    percent=percent,
                    action="log retention clean-up; no restart",
                )
                removed = clean_logs(self.config)
                self._emit("logs_cleaned", removed=removed)
            case OverCap(reason) if self._alive():
                # Held still while the snapshot is taken: a hard cap must not grow meanwhile.
                freeze_tree()
                snapshot = await self._snapshot(reason)
                self._emit(
                    "restart_triggered",
                    level="warning",
                    reason=reason,
                    pid=self._child.pid if self._child else None,
                    diagnostics=snapshot,
                )
                await self._stop_child()
                await self._after_crash(self._policy.on_failed_start(reason, now))
            case FailedStart(reason):
                self._restart_outcome("restart_failed", detail=reason)
                snapshot = await self._snapshot(reason)
                self._emit("child_failed_start", level="error", reason=reason, diagnostics=snapshot)
                await self._stop_child()
                await self._after_crash(self._policy.on_failed_start(reason, now))

    async def _snapshot(self, reason: str, exit_info: dict[str, Any] | None = None) -> str | None:
        """Before a kill (or after a crash): what the tree looked like, for `watchdog restarts`."""
        child = self._child
        if child is None or not self.config.diagnostics.enabled:
            return None
        bound = self.config.diagnostics.timeout + stop_bound(self.config.app.stop_timeout)
        self._ops.busy_until(self._clock() + bound)
        rules = self._policy.resources
        trend = rules.last_trend if rules else None
        taking = asyncio.ensure_future(
            self._postmortem.snapshot(
                child.generation,
                [child.pid, *self._tree_pids] if exit_info is None else list(self._tree_pids),
                reason,
                history=list(self._history)[-SNAPSHOT_SAMPLES:],
                levels=self._levels(),
                trend=trend_record(trend) if trend else None,
                exit_info=exit_info,
            )
        )
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait((taking, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not taking.done():  # a stop request does not wait out a snapshot
            taking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await taking
            self._emit("diagnostics_skipped", reason=reason, detail="the watchdog is stopping")
            return None
        path = taking.result()
        if path is None:
            self._emit(
                "diagnostics_failed",
                level="warning",
                reason=reason,
                directory=str(self.config.diagnostics.directory),
            )
        return None if path is None else str(path)

    async def _restart(self, reason: str) -> None:
        assert self._child is not None
        snapshot = await self._snapshot(reason)
        self._emit(
            "restart_triggered",
            level="warning",
            reason=reason,
            pid=self._child.pid,
            diagnostics=snapshot,
        )
        if self.config.restart.strategy == "overlap" and self._listener is not None:
            await self._overlap()
            return
        await self._stop_child()
        await self._start_child()

    async def _overlap(self) -> None:
        """The new child first; the old one serves until the new one accepts, then drains.

        A new child that dies or never accepts is stopped and the old one keeps serving:
        the restart failed, and the policy's next decision (throttled) may try again.
        """
        assert self._child is not None
        assert self._listener is not None
        old = self._child
        if self._stop_requested:
            self._emit("restart_cancelled", reason="the watchdog is stopping", pid=old.pid)
            return
        self._cancel_probes()
        self._generation += 1
        started = self._clock()
        try:
            new = spawn(
                self.config.app,
                self._generation,
                self._output_sink(),
                started,
                self._listener,
                mark=self._mark(),
            )
        except SpawnError as exc:
            self._restart_failed(old, None, str(exc))
            return
        self._incoming = new
        self._postmortem.child_started(new.generation)
        self._emit(
            "child_started",
            pid=new.pid,
            previous_pid=old.pid,
            strategy="overlap",
            command=shlex.join(self.config.app.command),
        )
        failure = await until_accepting(
            new,
            socket_inode(self._listener),
            self.config.health.startup_timeout,
            self._clock,
            lambda: self._stop_requested,
        )
        if failure is not None:
            await self._stop_incoming(new, spare=old.pid)
            self._incoming = None
            self._restart_failed(old, new.pid, failure)
            return
        self._emit("child_accepting", pid=new.pid, after=round(self._clock() - started, 3))
        if old.exited.done():  # died meanwhile: its queued exit will be stale once new is in
            self._report_exit(old, old.exited.result(), during="an overlap restart")
        await self._stop_child(spare=new.pid)  # old's drain; new already serves
        self._incoming, self._child = None, new
        self._lifecycle.fire(Trigger.SPAWN)
        self._down_since = None  # the socket never went unserved
        self._policy.child_started(started)
        self._probe_task = asyncio.create_task(self._probe_loop(new))

    async def _stop_incoming(self, new: Child, spare: int) -> None:
        """The overlap's new child that never served: stopped, and its stop logged."""
        app = self.config.app
        self._emit(
            "child_stopping", pid=new.pid, signal=app.stop_signal.name, timeout=app.stop_timeout
        )
        self._ops.busy_until(self._clock() + stop_bound(app.stop_timeout))
        report = await stop_tree(new.pid, app.stop_signal, app.stop_timeout, self._clock, spare)
        exit_ = await _settle(new)
        self._report_stopped(new, exit_, report)

    def _report_stopped(self, child: Child, exit_: ChildExit | None, report: StopReport) -> None:
        self._emit(
            "child_stopped",
            level="error" if report.survivors else "info",
            pid=child.pid,
            exit=(
                self._postmortem.describe_exit(child.generation, exit_, report.killed > 0)
                if exit_
                else "unknown"
            ),
            took=round(report.took, 3),
            processes=report.signalled,
            sigkilled=report.killed,
            survivors=report.survivors,
        )

    def _restart_failed(self, old: Child, new_pid: int | None, reason: str) -> None:
        serving = None if old.exited.done() else old.pid
        self._restart_outcome("restart_failed", detail=reason, pid=new_pid, serving_pid=serving)
        if self._stop_requested:
            self._emit("restart_cancelled", reason=reason, pid=new_pid, serving_pid=old.pid)
            return
        if old.exited.done():
            # Its exit is queued and handled next, as a crash: no child serves now.
            self._emit(
                "restart_failed",
                level="error",
                reason=reason,
                pid=new_pid,
                serving_pid=None,
                action="the old child has exited too",
            )
            return
        self._emit(
            "restart_failed",
            level="error",
            reason=reason,
            pid=new_pid,
            serving_pid=old.pid,
            action="the old child keeps serving",
        )
        self._policy.restart_failed(old.started_at)
        self._probe_task = asyncio.create_task(self._probe_loop(old))

    async def _stop_child(self, spare: int | None = None) -> None:
        child = self._child
        assert child is not None
        self._cancel_probes()
        self._lifecycle.fire(Trigger.STOP)
        app = self.config.app
        if self._down_since is None:
            self._down_since = self._clock()
        self._emit(
            "child_stopping", pid=child.pid, signal=app.stop_signal.name, timeout=app.stop_timeout
        )
        self._ops.busy_until(self._clock() + stop_bound(app.stop_timeout))
        report = await stop_tree(child.pid, app.stop_signal, app.stop_timeout, self._clock, spare)
        exit_ = await _settle(child)
        self._lifecycle.fire(Trigger.STOPPED)
        self._report_stopped(child, exit_, report)

    async def _on_exit(self, exit_: ChildExit) -> None:
        child = self._child
        assert child is not None
        self._cancel_probes()
        self._lifecycle.fire(Trigger.EXIT)
        if self._down_since is None:
            self._down_since = exit_.at
        description = self._postmortem.describe_exit(child.generation, exit_)
        self._restart_outcome("restart_failed", detail=f"the new child exited: {description}")
        info = {"code": exit_.code, "signal": exit_.signal, "description": description}
        snapshot = await self._snapshot(f"exited: {description}", exit_info=info)
        self._report_exit(child, exit_, diagnostics=snapshot)
        # Its orphans were re-parented to us: a crashed app leaves nothing running.
        app = self.config.app
        self._ops.busy_until(self._clock() + stop_bound(app.stop_timeout))
        report = await stop_tree(child.pid, app.stop_signal, app.stop_timeout, self._clock)
        if report.signalled:
            self._emit(
                "orphans_stopped",
                level="warning",
                count=report.signalled,
                sigkilled=report.killed,
                survivors=report.survivors,
            )
        await _settle(child)
        await self._after_crash(self._policy.on_exit(exit_))

    def _report_exit(self, child: Child, exit_: ChildExit, **fields: Any) -> None:
        self._emit(
            "child_exited",
            level="error",
            pid=exit_.pid,
            exit=self._postmortem.describe_exit(child.generation, exit_),
            code=exit_.code,
            signal=exit_.signal,
            uptime=round(exit_.at - child.started_at, 3),
            **fields,
        )

    async def _after_crash(self, decision: Respawn | GiveUp) -> None:
        match decision:
            case GiveUp(reason):
                self._emit("crash_loop", level="error", reason=reason, action="exit")
                self._lifecycle.fire(Trigger.GIVE_UP)
                self._exit_code = EXIT_CRASH_LOOP
            case Respawn(delay, crashes, crash_loop, reason):
                if crash_loop:
                    self._emit("crash_loop", level="error", reason=reason, action="keep_trying")
                self._lifecycle.fire(Trigger.WAIT)
                self._respawn_at = self._clock() + delay
                self._emit("restart_scheduled", delay=round(delay, 3), crashes=crashes)

    def _cancel_probes(self) -> None:
        if self._probe_task is not None:
            self._probe_task.cancel()
            self._probe_task = None

    # -- signals -------------------------------------------------------------------------

    async def _on_signal(self, signum: int, at: float) -> None:
        name = signal.Signals(signum).name
        self._emit("signal_received", signal=name)
        if signum in (signal.SIGTERM, signal.SIGINT):
            self._exit_code = EXIT_OK
        elif signum == signal.SIGHUP:
            await self._reload()
        elif signum in (signal.SIGUSR1, signal.SIGUSR2):
            if self._child is not None and at < self._child.started_at:
                self._ops.state.control(name, "done", detail="a restart since served it")
                return  # sent before the current child started: already served by a restart
            await self._restart_on_request(f"requested by {name}", signum == signal.SIGUSR1, name)

    async def _restart_on_request(
        self, reason: str, force: bool = True, requester: str | None = None
    ) -> None:
        """SIGUSR1 (`watchdog restart --force`) now; SIGUSR2 when the throttle allows.

        `requester` (a signal's name) gets its answer in the state file, for the command
        that sent it; a reload answers for itself.
        """

        def answer(outcome: str, **detail: Any) -> None:
            if requester is not None:
                self._ops.state.control(requester, outcome, **detail)

        if self.state in ALIVE_STATES:
            decisions = self._policy.restart_requested(reason, self._clock(), force)
            pending = self._policy.pending
            if decisions and isinstance(decisions[0], Restart):
                answer("restarting", detail=reason)
                self._restart_awaited = requester is not None
                # Written now, before the stop: the command that asked waits for it.
                self._ops.turn(self._live, self.state.value)
            elif pending is not None:
                at = time.time() + pending.at - self._clock()
                answer("throttled", restart_at=at, detail=pending.reason)
            for decision in decisions:
                await self._carry_out(decision)
        elif self.state is ChildState.BACKOFF and force:
            answer("restarting", detail="the app was waiting to restart after a crash")
            self._restart_awaited = requester is not None
            self._respawn_at = self._clock()
        elif self.state is ChildState.BACKOFF and self._respawn_at is not None:
            # A crash's backoff is a throttle too: an unforced request does not cut it short.
            at = time.time() + self._respawn_at - self._clock()
            answer("throttled", restart_at=at, detail="restarting after a crash", backoff=True)
        else:
            answer("ignored", detail=f"the app is {self.state.value}")

    def _restart_outcome(self, outcome: str, **detail: Any) -> None:
        """Tell the command that asked for a restart how it ended."""
        if self._restart_awaited:
            self._restart_awaited = False
            self._ops.state.control_outcome(outcome, **detail)

    async def _reload(self) -> None:
        self._ops.reloading()
        lock: InstanceLock | None = None
        try:
            new = self._reload_config()
            if new.app.listen != self.config.app.listen:
                # The held socket is bound once; a command written for another one (its
                # {fd}, a port) must not start against this one.
                raise ConfigError([_listen_change(self.config.app.listen, new.app.listen)])
            relog = new.logging != self.config.logging or new.app.name != self.config.app.name
            if new.state.dir != self.config.state.dir:
                prepare_log_dir(new.state.dir, "state.dir")
            lock = self._moved_lock(new)
            events = self._reopen_events(new) if relog else None
        except (ConfigError, LogDirError, LockHeldError, OSError) as exc:
            if lock is not None:
                lock.release()
            errors = str(exc).splitlines()
            self._emit("reload_failed", level="error", errors=errors)
            self._ops.state.control("SIGHUP", "reload_failed", errors=errors)
            await self._ops.reloaded(self.config, self.config)
            return
        old, self.config = self.config, new
        if lock is not None:
            assert self._lock is not None
            self._lock.release()
            self._lock = lock
        self._postmortem.config, self._postmortem.app_name = new.diagnostics, new.app.name
        if events is not None:
            self._events = events
        changed = [name for name in SECTIONS if getattr(old, name) != getattr(new, name)]
        self._emit("config_reloaded", changed=changed)
        self._ops.state.control("SIGHUP", "reloaded", changed=changed)
        await self._ops.reloaded(old, new)
        self._policy.reconfigure(new.health, new.restart, new.resources)
        if new.resources.history_size != self._history.maxlen:
            self._history = deque(self._history, maxlen=new.resources.history_size)
        if new.health != old.health:
            self._answers = self._new_answer_check()
            await self._prober.aclose()
            self._prober = self._new_prober(new.health)
            if self._probe_task is not None and self._child is not None:
                self._cancel_probes()
                self._probe_task = asyncio.create_task(self._probe_loop(self._child))
        if new.app != old.app:
            await self._restart_on_request("config reloaded with a new app section")

    def release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def _moved_lock(self, new: Config) -> InstanceLock | None:
        """A new app.name or state.dir moves the one-watchdog lock: taken there first."""
        if self._lock is None:
            return None
        path = lock_path(new.state.dir, new.app.name)
        if path == self._lock.path:
            return None
        lock = InstanceLock(path)
        lock.acquire()
        return lock

    async def _shutdown(self) -> None:
        self._restart_outcome("restart_cancelled", detail="the watchdog is stopping")
        self._ops.stopping()
        self._emit("watchdog_stopping", state=self.state.value)
        try:
            await self._stop_everything()
        except Exception:  # noqa: BLE001 - the state file and outputs must still be closed
            self._emit("shutdown_failed", level="critical", exc_info=True)
        self._emit("watchdog_stopped", exit_code=self._exit_code)
        await self._ops.aclose(self._exit_code or 0, self._live())

    async def _stop_everything(self) -> None:
        self._cancel_probes()
        if self.state in (*ALIVE_STATES, ChildState.EXITED, ChildState.BACKOFF):
            if self._child is not None and self.state in ALIVE_STATES:
                await self._stop_child()
            else:
                self._lifecycle.fire(Trigger.STOP)
                self._lifecycle.fire(Trigger.STOPPED)
        # Whatever is left of the tree (orphans in any state) goes too.
        await stop_tree(
            None, self.config.app.stop_signal, self.config.app.stop_timeout, self._clock
        )
        with contextlib.suppress(Exception):
            await self._prober.aclose()
        if self._listener is not None and self.config.app.listen is not None:
            close_listener(self._listener, self.config.app.listen)


def _listen_change(held: object, wanted: object) -> str:
    restart = "restart the watchdog to change it"
    if held is None:
        return f"app.listen: set to {wanted}, but the running watchdog holds no socket; {restart}"
    if wanted is None:
        return f"app.listen: removed, but the running watchdog holds {held}; {restart}"
    return f"app.listen: {wanted} differs from {held}, which the running watchdog holds; {restart}"


async def _settle(child: Child) -> ChildExit | None:
    """The child's exit status once reaped, after its output is drained; bounded."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETTLE_WAIT):
            await asyncio.gather(*(pump.closed for pump in child.pumps))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETTLE_WAIT):
            return await asyncio.shield(child.exited)
    return None


def _wall(offset: float) -> str:
    """An ISO-8601 UTC time `offset` seconds from now, for a person reading the log."""
    return datetime.fromtimestamp(time.time() + offset, UTC).isoformat(timespec="seconds")
