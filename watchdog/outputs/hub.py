"""The outputs that live as long as the watchdog: the state file, sd_notify, alerts, metrics.

Each is subscribed to the bus; here they are started, brought up to date after every turn
of the loop (`turn`, with what only the controller knows), moved by a reload and closed.
Every output failure is survived: supervision never waits for, or dies of, an output.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from watchdog.config import Config
from watchdog.outputs.alerts import Alerter
from watchdog.outputs.bus import Bus
from watchdog.outputs.events import Event
from watchdog.outputs.logfiles import say
from watchdog.outputs.metrics import Metrics
from watchdog.outputs.notify import Heartbeat, Notifier
from watchdog.outputs.scrape import MetricsError
from watchdog.outputs.statefile import REFRESH, STALE_AFTER, StateFile, state_path

Report = Callable[..., None]


class Outputs:
    def __init__(
        self,
        config: Config,
        report: Report,
        clock: Callable[[], float] = time.monotonic,
        notifier: Notifier | None = None,
        bus: Bus | None = None,
    ) -> None:
        self.bus = bus or Bus(clock)
        self._report = report
        self._clock = clock
        self.notifier = notifier or Notifier()
        interval = self.notifier.ping_interval
        # The loop wakes at least twice per ping, so an idle loop is never taken for a hung one.
        self.wake_every = min(REFRESH, interval / 2) if interval else REFRESH
        # A beat missed for one ping interval stops the pings: systemd acts within
        # WatchdogSec of the loop's last turn, not twice that.
        self.heartbeat = Heartbeat(tolerance=interval or REFRESH)
        self.state = StateFile(
            state_path(config.state.dir, config.app.name),
            config.app.name,
            report,
            # Nothing holds the loop up (a stop of the app runs beside it): a file this
            # old means a hung watchdog.
            stale_after=STALE_AFTER,
        )
        self.alerter = Alerter(config.alerts, config.app.name, report, clock)
        self.metrics = Metrics(config.metrics, config.app.name, report, clock)
        for output in (self.state, self.alerter, self.metrics, self):
            self.bus.subscribe(output)
        self._healthy_seen = False
        self._ready_sent = False
        self._stalled = False
        self._pinger: asyncio.Task[None] | None = None
        self._textfile_at = 0.0
        self._written_at = float("-inf")
        self._written_state = ""
        self._app = config.app.name

    async def start(self) -> None:
        """Raises MetricsError when metrics.listen cannot be bound: a start-up failure."""
        await self.metrics.start()
        self.heartbeat.beat(self._clock())
        if self.notifier.ping_interval:
            self._pinger = asyncio.create_task(self._ping_loop(self.notifier.ping_interval))

    def emit(self, name: str, level: str, category: str, fields: Mapping[str, Any]) -> None:
        self.bus.emit(name, level, category, **fields)

    def on_event(self, event: Event) -> None:
        self._tell_systemd(event)

    def _tell_systemd(self, event: Event) -> None:
        """sd_notify follows the events: READY=1 once healthy, RELOADING=1 and READY=1
        around a reload, STOPPING=1 once the watchdog stops."""
        match event.name:
            case "child_healthy":
                self.healthy()
            case "signal_received" if event.fields.get("signal") == "SIGHUP":
                self.reloading()
            case "config_reloaded" | "reload_failed" if self._ready_sent:
                self.notifier.ready()
            case "watchdog_stopping":
                self.stopping()

    def turn(self, live: Callable[[], Mapping[str, Any]], child_state: str) -> None:
        """A turn of the supervising loop: beat, and bring the state file and status up to date.

        The file is rewritten when the app's state changed, when a control request has its
        answer, when an event brought news (see StateFile), or once REFRESH has passed:
        writing it on every probe and sample was most of what the watchdog spent at
        one-second checks, once per second about a sixth of it still.
        """
        now = self._clock()
        self.heartbeat.beat(now)
        if self._healthy_seen and not self._ready_sent:
            self._send_ready()  # the first try did not get through
        due = now >= self.write_due() or child_state != self._written_state
        if not (due or self.state.answer_waiting or self.state.news):
            return
        self._written_at, self._written_state = now, child_state
        snapshot = live()
        self.state.write(snapshot)
        self.metrics.show_levels(snapshot.get("levels") or {})
        self.notifier.status(status_line(self._app, snapshot))
        if now - self._textfile_at >= REFRESH:
            self._textfile_at = now
            self.metrics.write_textfile()

    def write_due(self) -> float:
        """When the state file must be rewritten though nothing happened: the loop wakes by then."""
        return self._written_at + REFRESH

    def healthy(self) -> None:
        self._healthy_seen = True
        if not self._ready_sent:
            self._send_ready()

    def _send_ready(self) -> None:
        self._ready_sent = self.notifier.ready()

    def reloading(self) -> None:
        if self._ready_sent:  # before READY=1, systemd is still waiting for the start
            self.notifier.reloading()

    async def reconfigure(self, old: Config, new: Config) -> None:
        """A reload took effect: alerts, metrics and the state file follow the new config."""
        if new.alerts != old.alerts or new.app.name != old.app.name:
            try:
                alerter = Alerter(new.alerts, new.app.name, self._report, self._clock)
            except Exception as exc:  # noqa: BLE001 - keep alerting the old way, say why
                self._report("alerts_reload_failed", level="error", error=type(exc).__name__)
            else:
                previous, self.alerter = self.alerter, alerter
                self.bus.replace(previous, alerter)
                await _quietly(previous.aclose())
        if new.metrics != old.metrics:
            try:
                await self.metrics.reconfigure(new.metrics)
            except MetricsError as exc:  # the old address is closed; the values go on
                self._report("metrics_unavailable", level="error", error=str(exc))
        path = state_path(new.state.dir, new.app.name)
        if path != self.state.path:
            self.state.path = path
        self._app = new.app.name

    def stopping(self) -> None:
        self.notifier.stopping()

    async def _ping_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.heartbeat.alive(self._clock()):
                self.notifier.ping()
                self._stalled = False
            elif not self._stalled:
                self._stalled = True
                self._report("watchdog_loop_stalled", level="critical", action="no WATCHDOG=1 ping")

    async def aclose(self, exit_code: int, live: Mapping[str, Any]) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
        self.state.stopped(exit_code)
        self.metrics.stopped()
        self.state.write(live)
        self.metrics.show_levels(live.get("levels") or {})
        self.metrics.write_textfile()
        await _quietly(self.alerter.aclose())
        await _quietly(self.metrics.aclose())
        self.notifier.close()


async def _quietly(closing: Coroutine[Any, Any, None]) -> None:
    try:
        await closing
    except Exception as exc:  # noqa: BLE001 - closing an output never fails a stop
        say(f"watchdog: closing an output failed: {exc!r}")


def status_line(app: str, live: Mapping[str, Any]) -> str:
    """The one line `systemctl status` shows.

    "running" already says the app answered healthy once; whether it still does is the
    probes' news, which this snapshot does not carry, so the line claims nothing more.
    """
    child = live.get("child") or {}
    state = child.get("state")
    text = f"{app}: {state.replace('_', ' ') if state else 'unknown state'}"
    if child.get("pid"):
        text += f" pid {child['pid']}"
    # Each metric's name says whose figure it is: host_cpu critical is the host's, not the app's.
    bad = [
        f"{metric} {level['level']}"
        for metric, level in sorted((live.get("levels") or {}).items())
        if level.get("level") in ("warning", "critical")
    ]
    if bad:
        text += "; " + ", ".join(bad)
    pending = live.get("pending_restart")
    if pending:
        text += f"; restart pending: {pending.get('reason') or 'no reason recorded'}"
    return text
