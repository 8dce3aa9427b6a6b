"""Scripted histories for the controller: facts at times in, commands out; no processes.

A `Run` answers Spawn at once with Spawned, as the runtime does (spawning is synchronous);
every other outcome (a probe, an exit, a stop that took a while) is a fact the test feeds.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from watchdog.config import Config, parse
from watchdog.core.commands import (
    Answer,
    Command,
    Emit,
    Spawn,
    StartProbes,
    StopTree,
    TakeSnapshot,
)
from watchdog.core.controller import Controller
from watchdog.core.facts import (
    Exited,
    Fact,
    Probed,
    SnapshotTaken,
    Spawned,
    StopOutcome,
    Stopped,
)
from watchdog.core.lifecycle import ChildState
from watchdog.core.observations import ChildExit, ProbeResult

BASE = Path("/srv/app")
CLEAN_STOP = StopOutcome(signalled=1, killed=0, survivors=0, took=0.05)
NO_ORPHANS = StopOutcome(signalled=0, killed=0, survivors=0, took=0.01)  # a crash's sweep


def config(**sections: dict[str, Any]) -> Config:
    """A config like the guide's, but quick; sections override keys (one level deep)."""
    raw: dict[str, Any] = {
        "app": {"name": "api", "command": ["serve"], "stop_timeout": "2s"},
        "health": {
            "url": "http://127.0.0.1:8000/health",
            "interval": "1s",
            "timeout": "500ms",
            "max_failures": 3,
            "startup_timeout": "10s",
            "startup_interval": "100ms",
        },
        "restart": {"min_interval": "5m", "backoff_initial": "1s", "backoff_max": "8s"},
        "diagnostics": {"enabled": False},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return parse(raw, base_dir=BASE, python="/usr/bin/python3")


def ok(at: float, latency: float = 0.01) -> ProbeResult:
    return ProbeResult(ok=True, status=200, latency=latency, error=None, at=at)


def failed(at: float, error: str = "connection refused") -> ProbeResult:
    return ProbeResult(ok=False, status=None, latency=0.0, error=error, at=at)


def crash(pid: int, at: float, code: int = 1) -> ChildExit:
    return ChildExit(pid=pid, code=code, signal=None, at=at)


class Run:
    """One controller and everything it said; pids are 101, 102, ... by generation."""

    def __init__(self, controller_config: Config | None = None) -> None:
        self.controller = Controller(controller_config or config())
        self.commands: list[Command] = []
        self._pids = itertools.count(101)
        self.now = 0.0
        self.lot = 0.0  # what the runtime's draw gives each child in max_uptime_jitter

    @property
    def state(self) -> ChildState:
        return self.controller.state

    def feed(self, at: float, fact: Fact) -> list[Command]:
        """Step one fact at `at`; Spawn is answered at once. Returns what this step said."""
        self.now = at
        out = self._step(fact)
        self.commands += out
        return out

    def _step(self, fact: Fact) -> list[Command]:
        said = self.controller.step(fact, self.now)
        out = list(said)
        for command in said:
            if isinstance(command, Spawn):
                pid = next(self._pids)
                spawned = Spawned(command.generation, pid, self.now, 1e9 + self.now, self.lot)
                out += self._step(spawned)
        return out

    # -- the facts a test feeds most -------------------------------------------------

    def probe(self, at: float, result: ProbeResult | None = None) -> list[Command]:
        return self.feed(at, Probed(self.generation, result or ok(at)))

    def exit(
        self, at: float, code: int = 1, generation: int | None = None, left: int = 1
    ) -> list[Command]:
        """The child exits; `left`: processes of the app still running then (by default
        some: its orphans may hold the port, so they are swept before the respawn)."""
        gen = generation or self.generation
        pid = self.pid_of(gen)
        return self.feed(at, Exited(gen, crash(pid, at, code), f"exit code {code}", left))

    def stopped(
        self, at: float, generation: int | None = None, outcome: StopOutcome | None = None
    ) -> list[Command]:
        """A StopTree is done: the child's (by default the current one), or the last sweep
        (generation 0); a crashed child's sweep found no orphans unless `outcome` says so."""
        if outcome is None:
            outcome = NO_ORPHANS if self.state is ChildState.EXITED else CLEAN_STOP
        gen = self.generation if generation is None else generation
        pid = self.pid_of(gen) if gen else 0
        exit_ = crash(pid, at, 0) if gen else None
        return self.feed(
            at, Stopped(gen or None, exit_, outcome, "exit code 0" if gen else None, at)
        )

    def snapshot(self, at: float, path: str | None = "/logs/diagnostics/x.json") -> list[Command]:
        [take] = [c for c in self.commands if isinstance(c, TakeSnapshot)][-1:]
        return self.feed(at, SnapshotTaken(take.ticket, path))

    def start(self, at: float = 0.0) -> None:
        """Boot and become healthy at `at` + 0.1."""
        from watchdog.core.facts import Booted

        self.feed(at, Booted(at))
        self.probe(at + 0.1)
        assert self.state is ChildState.RUNNING

    # -- reading what it said --------------------------------------------------------

    @property
    def generation(self) -> int:
        child = self.controller.child
        return child.generation if child else 0

    def pid_of(self, generation: int) -> int:
        return 100 + generation

    def events(self, commands: list[Command] | None = None) -> list[str]:
        said = self.commands if commands is None else commands
        return [c.name for c in said if isinstance(c, Emit)]

    def event(self, name: str, commands: list[Command] | None = None) -> dict[str, Any]:
        found = [
            dict(c.fields)
            for c in (self.commands if commands is None else commands)
            if isinstance(c, Emit) and c.name == name
        ]
        assert found, f"no {name} in {self.events(commands)}"
        return found[-1]

    def of(self, kind: type, commands: list[Command] | None = None) -> list[Any]:
        return [c for c in (self.commands if commands is None else commands) if isinstance(c, kind)]


def answers(commands: list[Command]) -> list[tuple[str | None, str]]:
    return [(c.request, c.outcome) for c in commands if isinstance(c, Answer)]


def stops(commands: list[Command]) -> list[StopTree]:
    return [c for c in commands if isinstance(c, StopTree)]


def probes(commands: list[Command]) -> list[StartProbes]:
    return [c for c in commands if isinstance(c, StartProbes)]
