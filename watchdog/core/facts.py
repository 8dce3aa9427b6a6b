"""Facts: what the shell observed or what became of a command, fed to Controller.step.

Each fact about a child carries its generation, so the controller (not the shell) tells a
stale fact about a child it already let go of from one about the current child.
"""

from __future__ import annotations

from dataclasses import dataclass

from watchdog.core.observations import ChildExit, ProbeResult, Sample


@dataclass(frozen=True, slots=True)
class Booted:
    """The shell is ready (leftovers stopped, ports checked, socket held): start the app."""

    at: float


@dataclass(frozen=True, slots=True)
class Spawned:
    generation: int
    pid: int
    at: float
    wall: float  # time.time() at the start, for a person reading the state file
    lot: float = 0.0  # drawn in [0, 1) by the runtime: where in max_uptime_jitter it falls


@dataclass(frozen=True, slots=True)
class SpawnFailed:
    generation: int
    error: str
    at: float


@dataclass(frozen=True, slots=True)
class Probed:
    generation: int
    result: ProbeResult


@dataclass(frozen=True, slots=True)
class Sampled:
    sample: Sample


@dataclass(frozen=True, slots=True)
class CapCrossed:
    """A quick RSS-only check found the child's tree at or over max_rss."""

    generation: int
    tree_rss: int
    at: float


@dataclass(frozen=True, slots=True)
class Exited:
    """A child ended; `description` is the exit for a person (code, signal, OOM killer)."""

    generation: int
    exit: ChildExit
    description: str
    left: int = 0  # processes of the app's still running when it was reaped: its orphans


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """What stopping a tree took: how many got the stop signal, how many needed SIGKILL."""

    signalled: int
    killed: int
    survivors: int
    took: float


@dataclass(frozen=True, slots=True)
class Stopped:
    """A StopTree (or a sweep, generation None) is done; `exit` once the child is reaped."""

    generation: int | None
    exit: ChildExit | None
    outcome: StopOutcome
    exit_text: str | None = None  # the exit for a person, as the shell's postmortem reads it
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Accepting:
    """The overlap's new child takes connections from the held socket."""

    generation: int
    at: float


@dataclass(frozen=True, slots=True)
class NotAccepting:
    """The overlap's new child never took a connection: why (exited, timed out)."""

    generation: int
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class StoppedAccepting:
    """A StopAccepting is done: registrations paused, connections still unread, and why a
    part could not be done (then the stop that follows is the usual one)."""

    generation: int
    paused: int
    unread: int
    took: float
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkersReplaced:
    """After the reload signal, the app's master runs new workers of its own, and none of
    the old ones."""

    generation: int
    before: tuple[int, ...]
    after: tuple[int, ...]
    at: float


@dataclass(frozen=True, slots=True)
class NotReloaded:
    """The reload signal was not followed by new workers in time (or could not be sent)."""

    generation: int
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class SnapshotTaken:
    """A TakeSnapshot is done: its file, or None (failed, or cancelled by a stop)."""

    ticket: int
    path: str | None
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class Signalled:
    """A signal to the watchdog, by name (SIGTERM, SIGHUP, ...): the core has no `signal`."""

    name: str
    at: float


@dataclass(frozen=True, slots=True)
class ConfigRead:
    """A reload's config was read and validated: `config`, or every problem with it."""

    config: object | None  # a Config; typed loosely so facts import no config machinery
    errors: tuple[str, ...]
    at: float


@dataclass(frozen=True, slots=True)
class Reconfigured:
    """The shell applied a reload's outputs (log files, lock, probe): or why it could not."""

    errors: tuple[str, ...]
    at: float


@dataclass(frozen=True, slots=True)
class TimerFired:
    at: float
    time_of_day: float | None = None  # seconds since local midnight, for restart.window


@dataclass(frozen=True, slots=True)
class RemedyDone:
    """A SignalApp or PostApp is done: delivered (`ok`), or the `error` that stopped it."""

    generation: int
    ticket: int
    ok: bool
    error: str | None
    at: float


@dataclass(frozen=True, slots=True)
class WorkerSignalled:
    """A SignalWorker is done: `error` None if the signal went to the worker, else why not;
    `gone`: the worker sampled is no longer there (it exited, or its pid is another's)."""

    generation: int
    pid: int
    error: str | None
    gone: bool
    at: float
    # Taken off the held socket first: registrations paused, connections left unread, and
    # what could not be done (the signal went all the same).
    paused: int = 0
    unread: int = 0
    problems: tuple[str, ...] = ()


Fact = (
    Booted
    | Spawned
    | SpawnFailed
    | Probed
    | Sampled
    | CapCrossed
    | Exited
    | Stopped
    | Accepting
    | NotAccepting
    | StoppedAccepting
    | WorkersReplaced
    | NotReloaded
    | SnapshotTaken
    | Signalled
    | ConfigRead
    | Reconfigured
    | TimerFired
    | RemedyDone
    | WorkerSignalled
)
