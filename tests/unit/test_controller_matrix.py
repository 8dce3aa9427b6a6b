"""Every fact in every state the controller can rest in: handled or ignored, never a crash.

Each state is reached by a real history, then every kind of fact is fed to a fresh copy
of it, about the current child, the overlap's new child and a stale generation alike.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.unit.histories import Run, config, failed
from watchdog.core.commands import TakeSnapshot
from watchdog.core.facts import (
    Accepting,
    Booted,
    CapCrossed,
    ConfigRead,
    Exited,
    Fact,
    NotAccepting,
    NotReloaded,
    Probed,
    Reconfigured,
    RemedyDone,
    Sampled,
    Signalled,
    SnapshotTaken,
    Spawned,
    SpawnFailed,
    StopOutcome,
    Stopped,
    StoppedAccepting,
    TimerFired,
    WorkersReplaced,
)
from watchdog.core.lifecycle import ChildState, IllegalTransitionError
from watchdog.core.observations import ChildExit, Sample
from watchdog.core.steps.operator import START_SIGNAL, STOP_SIGNAL

OVERLAP = {"app": {"listen": "127.0.0.1:8000"}, "restart": {"strategy": "overlap"}}


def _stopped_before_boot() -> Run:
    return Run()


def _starting() -> Run:
    run = Run()
    run.feed(0.0, Booted(0.0))
    return run


def _running() -> Run:
    run = Run()
    run.start()
    return run


def _restarting() -> Run:
    run = Run(config(diagnostics={"enabled": True}))
    run.start()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    return run


def _reloading() -> Run:
    run = Run(config(restart={"method": "signal"}))
    run.start()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    return run


def _stopping() -> Run:
    run = _running()
    for at in (1.0, 2.0, 3.0):
        run.probe(at, failed(at))
    return run


def _handover() -> Run:
    run = Run(config(**OVERLAP))
    run.start()
    run.feed(1.0, Signalled("SIGUSR1", 1.0))
    return run


def _draining() -> Run:
    run = _handover()
    run.feed(1.2, Accepting(2, 1.2))
    return run


def _exited() -> Run:
    run = Run(config(diagnostics={"enabled": True}))
    run.start()
    run.exit(1.0)
    return run


def _backoff() -> Run:
    run = _running()
    run.exit(1.0)
    run.stopped(1.01)
    run.probe(1.1)
    run.exit(2.0)
    run.stopped(2.01)
    return run


def _fatal() -> Run:
    run = Run(config(restart={"crash_loop": {"max_crashes": 1}}))
    run.start()
    run.exit(1.0)
    run.stopped(1.01)
    return run


def _held() -> Run:
    run = _running()
    run.feed(1.0, Signalled(STOP_SIGNAL, 1.0))
    run.stopped(1.2)
    return run


STATES: dict[ChildState, Callable[[], Run]] = {
    ChildState.STOPPED: _stopped_before_boot,
    ChildState.STARTING: _starting,
    ChildState.RUNNING: _running,
    ChildState.RESTARTING: _restarting,
    ChildState.RELOADING: _reloading,
    ChildState.STOPPING: _stopping,
    ChildState.HANDOVER: _handover,
    ChildState.DRAINING: _draining,
    ChildState.EXITED: _exited,
    ChildState.BACKOFF: _backoff,
    ChildState.FATAL: _fatal,
    ChildState.HELD: _held,
}


def _sample(at: float) -> Sample:
    return Sample(at, 1, 2**20, 0.0, 1, 4, 2, 2**30, "host", 10.0, 10.0, ())


def _facts(run: Run, at: float) -> list[Fact]:
    """One fact of each kind about each generation that could matter, and a stale one."""
    current = run.generation
    gens = sorted({current, current + 1, max(current - 1, 0)})
    tickets = [c.ticket for c in run.commands if isinstance(c, TakeSnapshot)] or [1]
    outcome = StopOutcome(1, 0, 0, 0.1)
    facts: list[Fact] = [Booted(at), Sampled(_sample(at)), TimerFired(at), TimerFired(at + 600)]
    for gen in gens:
        exit_ = ChildExit(100 + gen, 1, None, at)
        facts += [
            Spawned(gen, 100 + gen, at, at),
            SpawnFailed(gen, "command not found: serve", at),
            Probed(gen, failed(at)),
            CapCrossed(gen, 2**40, at),
            Exited(gen, exit_, "exit code 1"),
            Stopped(gen, exit_, outcome, "exit code 1", at),
            Accepting(gen, at),
            NotAccepting(gen, "the new child exited while starting", at),
            StoppedAccepting(gen, 1, 0, 0.01),
            WorkersReplaced(gen, (200,), (201,), at),
            NotReloaded(gen, "no new workers within 10s", at),
            RemedyDone(gen, 1, True, None, at),
            RemedyDone(gen, 1, False, "the child is gone", at),
        ]
    facts.append(Stopped(None, None, outcome, None, at))
    facts += [SnapshotTaken(ticket, None) for ticket in (*tickets, tickets[-1] + 1)]
    facts += [Signalled(name, at) for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2")]
    facts += [Signalled(name, at) for name in (STOP_SIGNAL, START_SIGNAL)]
    facts += [ConfigRead(None, ("bad",), at), ConfigRead(run.controller.config, (), at)]
    facts.append(Reconfigured((), at))
    return facts


def _cases() -> list[tuple[ChildState, int]]:
    cases = []
    for state, build in STATES.items():
        run = build()
        assert run.state is state, f"{build.__name__} reached {run.state}"
        cases += [(state, index) for index in range(len(_facts(run, 50.0)))]
    return cases


@pytest.mark.parametrize(("state", "index"), _cases())
def test_every_fact_in_every_state(state: ChildState, index: int) -> None:
    """No (state, fact) pair raises, and the controller is still in a state afterwards."""
    run = STATES[state]()
    fact = _facts(run, 50.0)[index]
    try:
        run.feed(50.0, fact)
    except IllegalTransitionError as exc:  # pragma: no cover - the failure this test is for
        pytest.fail(f"{type(fact).__name__} in {state.value}: {exc}")


def test_every_state_is_reached() -> None:
    assert set(STATES) == set(ChildState)


# A first crash respawned past (steps/crashes.py) is in flight beside any of the states
# above: while the new child boots, while its snapshot is taken, while its orphans are swept.
def _left_booting() -> Run:
    run = Run(config(app=OVERLAP["app"], diagnostics={"enabled": True}))
    run.start()
    run.exit(1.0, left=2)
    return run


def _left_snapshot() -> Run:
    run = _left_booting()
    run.probe(1.1)
    return run


def _left_sweeping() -> Run:
    run = _left_snapshot()
    run.snapshot(1.2)
    return run


LEFT_BEHIND: dict[str, Callable[[], Run]] = {
    "booting": _left_booting,
    "snapshot": _left_snapshot,
    "sweeping": _left_sweeping,
}


@pytest.mark.parametrize(
    ("phase", "index"),
    [(phase, i) for phase, build in LEFT_BEHIND.items() for i in range(len(_facts(build(), 50.0)))],
)
def test_every_pair_of_facts_with_a_crash_respawned_past_in_flight(phase: str, index: int) -> None:
    """Each fact, then each fact again on a fresh copy: no pair raises while the crashed
    child's snapshot or sweep is still to come."""
    build = LEFT_BEHIND[phase]
    for second in range(len(_facts(build(), 50.0))):
        run = build()
        assert run.controller.left_behind is not None
        run.feed(50.0, _facts(run, 50.0)[index])
        then = _facts(run, 51.0)
        if second < len(then):
            fact = then[second]
            try:
                run.feed(51.0, fact)
            except IllegalTransitionError as exc:  # pragma: no cover - what this test is for
                pytest.fail(f"{type(fact).__name__} after #{index} ({phase}): {exc}")
