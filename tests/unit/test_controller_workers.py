"""Scripted histories of worker recycling: one worker over its cap is signalled, one at a
time, at most so many an hour, and recycling stops (said once) when the master does not
replace its workers; never while the app starts, restarts or stops."""

from __future__ import annotations

import signal

import pytest

from tests.unit.histories import Run, config, failed
from tests.unit.test_controller_matrix import STATES
from watchdog.core.commands import ReadConfig, SignalWorker
from watchdog.core.facts import (
    ConfigRead,
    Reconfigured,
    Sampled,
    Signalled,
    WorkerSignalled,
)
from watchdog.core.lifecycle import ChildState
from watchdog.core.observations import Sample, WorkerSample
from watchdog.core.rules.workers import REPLACE_WITHIN

MB = 2**20
CAP = {"max_worker_rss": "100MB"}


def worker(pid: int, rss_mb: float, created: float | None = None) -> WorkerSample:
    return WorkerSample(pid, float(pid) if created is None else created, int(rss_mb * MB))


def sample(at: float, *workers: WorkerSample, of: int | None = 1) -> Sample:
    rss = sum(w.rss for w in workers) + 30 * MB
    return Sample(
        at, len(workers) + 1, rss, 0.0, 1, 4, 2, 2**34, "host", 10.0, 5.0, (),
        workers=workers, workers_of=of,
    )  # fmt: skip


def running(**memory: object) -> Run:
    run = Run(config(resources={"memory": {**CAP, **memory}}))
    run.start()
    return run


def signals(said: list) -> list[SignalWorker]:
    return [c for c in said if isinstance(c, SignalWorker)]


def recycle(run: Run, at: float, *workers: WorkerSample) -> SignalWorker:
    """A sample at `at` that signals one worker, and the signal delivered."""
    [sent] = signals(run.feed(at, Sampled(sample(at, *workers, of=run.generation))))
    run.feed(at, WorkerSignalled(sent.generation, sent.pid, None, False, at))
    return sent


def test_a_worker_over_its_cap_is_signalled_alone() -> None:
    """The worker at or over max_worker_rss gets worker_signal; the master, the other
    workers and the app itself are left alone."""
    run = running(worker_signal="INT")
    said = run.feed(1.0, Sampled(sample(1.0, worker(201, 40), worker(202, 100))))
    assert signals(said) == [SignalWorker(1, 202, 202.0, signal.SIGINT)]
    said = run.feed(1.0, WorkerSignalled(1, 202, None, False, 1.0))
    recycled = run.event("worker_recycled", said)
    assert recycled["pid"] == 202
    assert (recycled["rss_mb"], recycled["cap_mb"], recycled["signal"]) == (100.0, 100.0, "SIGINT")
    assert (recycled["recycled"], recycled["last_hour"]) == (1, 1)
    assert "restart_triggered" not in run.events()
    assert run.state is ChildState.RUNNING


def test_workers_under_the_cap_and_a_config_without_one_are_left_alone() -> None:
    run = running()
    assert not signals(run.feed(1.0, Sampled(sample(1.0, worker(201, 99.9)))))
    off = Run()  # max_worker_rss is null by default
    off.start()
    assert not signals(off.feed(1.0, Sampled(sample(1.0, worker(201, 5000)))))


def test_one_worker_at_a_time_the_next_once_the_first_is_replaced() -> None:
    """Two workers over the cap: the bigger goes first; the other waits until the master
    has replaced the first (its pid gone, as many workers as before)."""
    run = running()
    first = recycle(run, 1.0, worker(201, 150), worker(202, 120))
    assert first.pid == 201
    # Still exiting, then gone but not yet replaced: nothing more is signalled.
    assert not signals(run.feed(2.0, Sampled(sample(2.0, worker(201, 150), worker(202, 120)))))
    assert not signals(run.feed(3.0, Sampled(sample(3.0, worker(202, 125)))))
    said = run.feed(4.0, Sampled(sample(4.0, worker(202, 130), worker(203, 30))))
    replaced = run.event("worker_replaced", said)
    assert (replaced["pid"], replaced["new"], replaced["took"]) == (201, [203], 3.0)
    assert [s.pid for s in signals(said)] == [202]


def test_a_new_process_with_the_old_pid_is_not_the_old_worker() -> None:
    """The worker is known by pid and create time: a pid the kernel gave out again is a
    new worker, which replaces the old one."""
    run = running()
    recycle(run, 1.0, worker(201, 150), worker(202, 50))
    said = run.feed(2.0, Sampled(sample(2.0, worker(201, 30, created=9.0), worker(202, 50))))
    assert run.event("worker_replaced", said)["new"] == []  # 201 was there before, by pid
    assert not signals(said)


def test_the_rate_limit_pauses_recycling_once_until_the_app_next_starts() -> None:
    """More recycles due within an hour than worker_recycles_per_hour: recycling pauses,
    said once, and the app's own rules go on; a new child recycles again."""
    run = running(worker_recycles_per_hour=2)
    recycle(run, 1.0, worker(201, 150), worker(202, 50))
    recycle(run, 2.0, worker(203, 150), worker(202, 50))
    said = run.feed(3.0, Sampled(sample(3.0, worker(202, 50), worker(204, 150))))
    assert "worker_replaced" in run.events(said)
    assert not signals(said)
    paused = run.event("worker_recycling_paused", said)
    assert "2 workers were recycled within the last hour" in paused["reason"]
    assert "worker_recycles_per_hour: 2" in paused["reason"]
    assert paused["until"] == "the app next starts"
    later = [
        run.feed(at, Sampled(sample(at, worker(202, 50), worker(204, 150))))
        for at in (4.0, 3700.0, 7500.0)  # an hour later too: paused for this child
    ]
    assert not any(signals(said) or "worker_recycling_paused" in run.events(said) for said in later)
    # The whole-app rules still act: a restart for failed probes, then a fresh child.
    for at in (7501.0, 7502.0, 7503.0):
        run.probe(at, failed(at))
    run.stopped(7504.0)
    run.probe(7504.1)
    assert run.generation == 2
    assert signals(run.feed(7505.0, Sampled(sample(7505.0, worker(301, 150), of=2))))


def test_recycles_older_than_an_hour_no_longer_count() -> None:
    run = running(worker_recycles_per_hour=1)
    recycle(run, 1.0, worker(201, 150))
    run.feed(2.0, Sampled(sample(2.0, worker(202, 30))))  # replaced
    assert not signals(run.feed(3000.0, Sampled(sample(3000.0, worker(202, 150)))))
    assert run.event("worker_recycling_paused")  # 1 within the hour
    run = running(worker_recycles_per_hour=1)
    recycle(run, 1.0, worker(201, 150))
    run.feed(2.0, Sampled(sample(2.0, worker(202, 30))))
    assert [
        s.pid for s in signals(run.feed(3601.0, Sampled(sample(3601.0, worker(202, 150)))))
    ] == [202]


@pytest.mark.parametrize(
    ("after", "why"),
    [
        (
            (worker(202, 50),),
            "the master did not replace worker 201 within 60s: it has 1 of its 2 workers",
        ),
        ((worker(201, 150), worker(202, 50)), "worker 201 still runs 60s after its signal"),
    ],
    ids=["not_replaced", "did_not_exit"],
)
def test_a_master_that_does_not_replace_its_worker_pauses_recycling(
    after: tuple[WorkerSample, ...], why: str
) -> None:
    """Fewer workers than before (or the old one still there) for REPLACE_WITHIN and at
    least three samples: recycling stops, said once; the app is not restarted for it."""
    run = running()
    recycle(run, 1.0, worker(201, 150), worker(202, 50))
    for at in (2.0, 30.0, 1.0 + REPLACE_WITHIN - 0.1):
        said = run.feed(at, Sampled(sample(at, *after)))
        assert not run.events(said)[1:], run.events(said)  # the resource_sample alone
    at = 1.0 + REPLACE_WITHIN
    said = run.feed(at, Sampled(sample(at, *after)))
    assert run.event("worker_recycling_paused", said)["reason"] == why
    assert not signals(said)
    assert not signals(run.feed(at + 10, Sampled(sample(at + 10, *after))))
    assert run.events().count("worker_recycling_paused") == 1
    assert "restart_triggered" not in run.events()


def test_a_slow_sampler_is_not_judged_on_one_sample() -> None:
    """With samples far apart, the master gets three of them, however long they take."""
    run = running()
    recycle(run, 0.0, worker(201, 150), worker(202, 50))
    for at in (100.0, 200.0):
        assert "worker_recycling_paused" not in run.events(
            run.feed(at, Sampled(sample(at, worker(202, 50))))
        )
    assert "worker_recycling_paused" in run.events(
        run.feed(300.0, Sampled(sample(300.0, worker(202, 50))))
    )


def _over(run: Run, at: float) -> list:
    return run.feed(at, Sampled(sample(at, worker(201, 150), of=run.generation)))


def test_nothing_is_recycled_while_the_app_starts() -> None:
    run = Run(config(resources={"memory": CAP}))
    from watchdog.core.facts import Booted

    run.feed(0.0, Booted(0.0))
    assert run.state is ChildState.STARTING
    assert not signals(_over(run, 0.05))


@pytest.mark.parametrize(
    "state",
    [
        ChildState.RESTARTING,
        ChildState.STOPPING,
        ChildState.HANDOVER,
        ChildState.DRAINING,
        ChildState.BACKOFF,
    ],
)
def test_nothing_is_recycled_while_the_app_restarts_hands_over_or_backs_off(
    state: ChildState,
) -> None:
    run = STATES[state]()
    run.controller.config = config(
        resources={"memory": CAP},
        **({"app": {"listen": "127.0.0.1:8000"}, "restart": {"strategy": "overlap"}}),
    )
    assert run.state is state
    assert not signals(_over(run, 50.0))
    assert not signals(run.feed(50.0, Sampled(sample(50.0, worker(201, 150), of=2))))


def test_nothing_is_recycled_once_the_watchdog_is_stopping() -> None:
    run = running()
    run.feed(1.0, Signalled("SIGTERM", 1.0))
    assert not signals(_over(run, 1.1))


def test_the_workers_of_a_child_let_go_of_are_ignored() -> None:
    """A sample of the old child's workers (queued before its restart), and the outcome of
    a signal to one of them, say nothing about the new child."""
    run = running()
    sent = signals(_over(run, 1.0))[0]
    for at in (2.0, 3.0, 4.0):
        run.probe(at, failed(at))
    run.stopped(4.5)
    run.probe(4.6)
    assert (run.state, run.generation) == (ChildState.RUNNING, 2)
    said = run.feed(4.7, WorkerSignalled(1, sent.pid, None, False, 4.7))
    assert "worker_recycled" not in run.events(said)
    assert not signals(run.feed(4.8, Sampled(sample(4.8, worker(201, 150), of=1))))
    assert not signals(run.feed(4.9, Sampled(sample(4.9, worker(201, 150), of=None))))
    assert signals(run.feed(5.0, Sampled(sample(5.0, worker(301, 150), of=2))))


def test_a_worker_gone_before_its_signal_is_decided_afresh() -> None:
    run = running()
    run.feed(1.0, Sampled(sample(1.0, worker(201, 150), worker(202, 120))))
    said = run.feed(1.0, WorkerSignalled(1, 201, "it has exited", True, 1.0))
    assert run.event("worker_not_signalled", said) == {
        "pid": 201,
        "reason": "it has exited",
        "also": ("memory",),
    }
    assert "worker_recycled" not in run.events()
    said = run.feed(2.0, Sampled(sample(2.0, worker(202, 120), worker(203, 30))))
    assert [s.pid for s in signals(said)] == [202]


def test_a_signal_that_cannot_be_sent_pauses_recycling() -> None:
    run = running()
    run.feed(1.0, Sampled(sample(1.0, worker(201, 150))))
    said = run.feed(1.0, WorkerSignalled(1, 201, "not allowed to signal pid 201", False, 1.0))
    paused = run.event("worker_recycling_paused", said)
    assert paused["reason"] == "worker 201 could not be signalled: not allowed to signal pid 201"
    assert not signals(run.feed(2.0, Sampled(sample(2.0, worker(201, 150)))))


def test_a_reload_sets_the_cap_from_the_next_sample() -> None:
    """max_worker_rss, worker_signal and the hourly limit are read at each sample."""
    run = Run()
    run.start()
    assert not signals(_over(run, 1.0))
    new = config(resources={"memory": {"max_worker_rss": "120MB", "worker_signal": "QUIT"}})
    run.feed(2.0, Signalled("SIGHUP", 2.0))
    assert ReadConfig() in run.commands
    run.feed(2.1, ConfigRead(new, (), 2.1))
    said = run.feed(2.2, Reconfigured((), 2.2))
    assert "restart_triggered" not in run.events(said)
    assert signals(_over(run, 3.0)) == [SignalWorker(1, 201, 201.0, signal.SIGQUIT)]


@pytest.mark.parametrize("state", list(STATES))
def test_a_signal_outcome_in_any_state_is_handled_or_ignored(state: ChildState) -> None:
    run = STATES[state]()
    for gen in {run.generation, run.generation + 1, max(run.generation - 1, 0)}:
        run.feed(50.0, WorkerSignalled(gen, 201, None, False, 50.0))
        run.feed(50.0, WorkerSignalled(gen, 201, "it has exited", True, 50.0))
        run.feed(50.0, WorkerSignalled(gen, 201, "denied", False, 50.0))
    assert run.state is state


def test_a_reload_that_turns_recycling_off_and_on_again_starts_afresh() -> None:
    """Off, nothing of the paused recycling is kept: a cap set again recycles at once."""
    run = running(worker_recycles_per_hour=1)
    recycle(run, 1.0, worker(201, 150))
    run.feed(2.0, Sampled(sample(2.0, worker(202, 150))))
    assert run.event("worker_recycling_paused")
    for at, cap in ((3.0, None), (5.0, "100MB")):
        run.feed(at, Signalled("SIGHUP", at))
        run.feed(at, ConfigRead(config(resources={"memory": {"max_worker_rss": cap}}), (), at))
        run.feed(at, Reconfigured((), at))
        run.feed(at + 0.5, Sampled(sample(at + 0.5, worker(202, 150))))
    assert [s.pid for s in signals(run.commands)] == [201, 202]


def test_a_reload_in_place_is_a_new_start_for_recycling() -> None:
    """Paused until the app next starts: new workers from a reload in place are that start
    (the same master, but every worker new), so recycling resumes with them."""
    from watchdog.core.facts import Signalled, WorkersReplaced

    run = Run(config(restart={"method": "signal"}, resources={"memory": {**CAP}}))
    run.start()
    sent = recycle(run, 1.0, worker(201, 150))
    run.feed(2.0, WorkerSignalled(sent.generation, 201, "refused", False, 2.0))
    assert "worker_recycling_paused" in run.events()
    assert not signals(run.feed(3.0, Sampled(sample(3.0, worker(202, 150)))))
    run.feed(4.0, Signalled("SIGUSR1", 4.0))
    run.feed(4.5, WorkersReplaced(1, (202,), (301,), 4.5))
    run.probe(4.6)
    assert run.state is ChildState.RUNNING
    said = run.feed(5.0, Sampled(sample(5.0, worker(301, 150))))
    assert [s.pid for s in signals(said)] == [301]


def test_on_a_held_socket_the_worker_is_taken_off_it_before_its_signal() -> None:
    """As before a planned stop: what waits on the socket is left to the other workers."""
    run = Run(config(app={"listen": "127.0.0.1:8000"}, resources={"memory": CAP}))
    run.start()
    [sent] = signals(run.feed(1.0, Sampled(sample(1.0, worker(201, 40), worker(202, 100)))))
    assert sent.quiesce
    said = run.feed(1.1, WorkerSignalled(1, 202, None, False, 1.1, paused=2, unread=0))
    recycled = run.event("worker_recycled", said)
    assert (recycled["paused"], recycled["unread"]) == (2, 0)
    assert "problems" not in recycled


def test_what_could_not_be_taken_off_the_socket_is_said_with_the_recycle() -> None:
    run = Run(config(app={"listen": "127.0.0.1:8000"}, resources={"memory": CAP}))
    run.start()
    run.feed(1.0, Sampled(sample(1.0, worker(202, 100))))
    problem = ("cannot run the epoll helper: denied",)
    said = run.feed(1.1, WorkerSignalled(1, 202, None, False, 1.1, problems=problem))
    assert run.event("worker_recycled", said)["problems"] == list(problem)


def test_without_a_held_socket_the_signal_goes_at_once() -> None:
    run = running()
    [sent] = signals(run.feed(1.0, Sampled(sample(1.0, worker(202, 100)))))
    assert not sent.quiesce
    said = run.feed(1.1, WorkerSignalled(1, 202, None, False, 1.1))
    assert "paused" not in run.event("worker_recycled", said)
