"""The workers as the sampler finds them, and the signal that goes only to the one sampled:
real processes, a main process with two children and a grandchild."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from tests.conftest import gone_or_zombie, poll
from watchdog.process.workers import NotALeaf, NotOurs, signal_worker
from watchdog.sensors.sampler import Sampler

# A main process with two workers; the first worker has a child of its own. Each worker
# exits with the signal that ended it; the main process exits once both have.
MAIN = """
import subprocess, sys
sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
parent = "import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(60)"
nested = [sys.executable, "-c", parent, *sleeper]
workers = [subprocess.Popen(nested), subprocess.Popen(sleeper)]
print(" ".join(str(w.pid) for w in workers), flush=True)
for worker in workers:
    worker.wait()
"""


@pytest.fixture
def main() -> Iterator[subprocess.Popen[str]]:
    # A session of its own, as the watchdog starts the app: not taken for a helper of ours.
    process = subprocess.Popen(
        [sys.executable, "-c", MAIN], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    yield process
    # The main process may have exited already, its workers both ended by the test.
    with contextlib.suppress(psutil.NoSuchProcess):
        for child in psutil.Process(process.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
    process.kill()
    process.wait(10)


def _workers(main: subprocess.Popen[str]) -> list[int]:
    assert main.stdout is not None
    pids = [int(pid) for pid in main.stdout.readline().split()]
    poll(lambda: len(psutil.Process(pids[0]).children()) == 1, timeout=10)
    return pids


def test_the_sampler_finds_the_direct_children_of_the_main_process(main) -> None:
    """Both workers with their create time and RSS; the grandchild is in the tree, not a
    worker; without a main pid, no workers."""
    first, second = _workers(main)
    sample = Sampler(()).sample(main.pid, 7)
    assert sample.workers_of == 7
    assert {w.pid for w in sample.workers} == {first, second}
    for worker in sample.workers:
        assert worker.created == psutil.Process(worker.pid).create_time()
        assert worker.rss > 0
    assert sample.procs >= 4  # the main process, two workers, the grandchild
    plain = Sampler(()).sample()
    assert (plain.workers, plain.workers_of) == ((), None)


def test_only_the_worker_sampled_gets_the_signal(main) -> None:
    """A wrong create time (a reused pid), a wrong parent, or processes of its own (a
    master below a wrapper): refused, the process untouched; the right one: signalled;
    once gone: refused as exited."""
    first, second = _workers(main)
    sampled = {w.pid: w for w in Sampler(()).sample(main.pid, 1).workers}
    created = sampled[second].created
    with pytest.raises(NotOurs, match="now belongs to another process"):
        signal_worker(main.pid, second, created + 1.0, signal.SIGTERM)
    with pytest.raises(NotOurs, match="no longer a child of the app's main process"):
        signal_worker(os.getpid(), second, created, signal.SIGTERM)
    grandchild = psutil.Process(first).children()[0]
    with pytest.raises(NotOurs, match="no longer a child"):  # in the tree, but no worker
        signal_worker(main.pid, grandchild.pid, grandchild.create_time(), signal.SIGTERM)
    with pytest.raises(NotALeaf, match="has processes of its own"):
        signal_worker(main.pid, first, sampled[first].created, signal.SIGTERM)
    assert psutil.Process(second).status() != psutil.STATUS_ZOMBIE
    signal_worker(main.pid, second, created, signal.SIGTERM)
    poll(lambda: gone_or_zombie(second), timeout=10)  # the main process reaps it later
    for untouched in (first, grandchild.pid, main.pid):
        assert psutil.Process(untouched).status() != psutil.STATUS_ZOMBIE
    with pytest.raises(NotOurs, match="it has exited"):
        signal_worker(main.pid, second, created, signal.SIGTERM)  # a zombie: exited
