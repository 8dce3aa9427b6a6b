"""Commands: what Controller.step asks the shell to do. Each long one ends in a fact."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Spawn:
    """Start the app as `generation` (-> Spawned or SpawnFailed); beside the old one if
    `overlap`, on the held socket."""

    generation: int
    overlap: bool = False


@dataclass(frozen=True, slots=True)
class StartProbes:
    """Probe `generation` every `every` seconds, the first after `delay` (-> Probed)."""

    generation: int
    delay: float
    every: float


@dataclass(frozen=True, slots=True)
class StopProbes:
    pass


@dataclass(frozen=True, slots=True)
class WatchAccepting:
    """Until `generation` accepts on the held socket, for `timeout` (-> Accepting or
    NotAccepting)."""

    generation: int
    timeout: float


@dataclass(frozen=True, slots=True)
class StopAccepting:
    """Take `generation` off the held socket and let it read what it accepted, before its
    stop: a server that closes accepted, unread connections at shutdown drops none
    (-> StoppedAccepting)."""

    generation: int


@dataclass(frozen=True, slots=True)
class ReloadInPlace:
    """Send `signal` to `generation`'s main process and watch for new workers of its own,
    for `timeout` (-> WorkersReplaced or NotReloaded). Sent only where it has workers."""

    generation: int
    signal: str
    timeout: float


@dataclass(frozen=True, slots=True)
class StopTree:
    """Stop `generation`'s tree, TERM -> grace -> KILL (-> Stopped). `generation` None:
    whatever of the app's processes is left. `spare`: a generation left alone."""

    generation: int | None
    spare: int | None = None


@dataclass(frozen=True, slots=True)
class Freeze:
    """SIGSTOP the app's tree, so that a tree over its hard cap grows no further."""


@dataclass(frozen=True, slots=True)
class TakeSnapshot:
    """The diagnostic snapshot before a kill or after a crash (-> SnapshotTaken)."""

    ticket: int
    generation: int
    reason: str
    levels: Mapping[str, Any]
    trend: Mapping[str, Any] | None
    exit_info: Mapping[str, Any] | None = None  # after a crash: how it ended


@dataclass(frozen=True, slots=True)
class CancelSnapshot:
    """A stop does not wait out a snapshot (-> SnapshotTaken, cancelled)."""

    ticket: int


@dataclass(frozen=True, slots=True)
class Emit:
    """An event for every output: the logs, the state file, alerts, metrics, sd_notify."""

    name: str
    level: str = "info"
    category: str = "main"
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to a control request (a signal), for the command that sent it.
    `request` None: the final outcome of the last request first answered `restarting`."""

    request: str | None
    outcome: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CleanLogs:
    """Delete rotated log files past retention now (a disk turned critical)."""


@dataclass(frozen=True, slots=True)
class ReadConfig:
    """Read and validate the config file again, off the loop (-> ConfigRead)."""


@dataclass(frozen=True, slots=True)
class Reconfigure:
    """Apply a reload's config to the shell: log files, lock, probe (-> Reconfigured)."""

    config: object


@dataclass(frozen=True, slots=True)
class WakeAt:
    """Feed TimerFired at `at` (monotonic); it replaces the wake-up asked for before."""

    at: float | None


@dataclass(frozen=True, slots=True)
class Exit:
    code: int


@dataclass(frozen=True, slots=True)
class SignalApp:
    """A remedy: send `signal` (a name such as USR1) to `generation`'s main process, if it
    is still the live child the runtime spawned (-> RemedyDone)."""

    generation: int
    ticket: int
    signal: str


@dataclass(frozen=True, slots=True)
class PostApp:
    """A remedy: POST to `url`, on the health URL's own origin, with no body; no redirect
    followed, no answer by `timeout` a failure (-> RemedyDone)."""

    generation: int
    ticket: int
    url: str
    timeout: float


@dataclass(frozen=True, slots=True)
class SignalWorker:
    """Send `signal` to worker `pid` of `generation`, only if it still is that worker: a
    direct child of that generation's main process, created at `created` (-> WorkerSignalled).
    `quiesce`: take it off the held socket first, as a planned stop does (StopAccepting)."""

    generation: int
    pid: int
    created: float
    signal: int
    quiesce: bool = False


Command = (
    Spawn
    | StartProbes
    | StopProbes
    | WatchAccepting
    | StopAccepting
    | ReloadInPlace
    | StopTree
    | Freeze
    | TakeSnapshot
    | CancelSnapshot
    | Emit
    | Answer
    | CleanLogs
    | ReadConfig
    | Reconfigure
    | WakeAt
    | Exit
    | SignalApp
    | PostApp
    | SignalWorker
)
