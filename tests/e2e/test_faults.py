"""End to end: the rarer faults of the matrix (bench/FAULTS.md), each on a real watchdog run."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.conftest import WatchdogProcess, fast_config, free_port, gone_or_zombie, pid_gone, poll
from watchdog.outputs.logs import CATEGORIES
from watchdog.outputs.statefile import REFRESH
from watchdog.process.child import MAX_LINE_BYTES

# The watchdog's own CPU time over a window of this many seconds must stay under the limit:
# probing every 300 ms costs a few tens of ms, a loop spinning on a dead pipe a whole core.
CPU_WINDOW = 2.0
CPU_LIMIT = 0.3
CANNOT_WRITE = "watchdog: cannot write "
WORKERS_WATCHED = 1.0  # how long the orphaned workers are seen to live on


def _pipes(pid: int) -> int:
    """How many pipe ends `pid` holds open."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:")
    return count


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _counted_failures(watchdog: WatchdogProcess) -> list[dict]:
    """Failed probes of a healthy child (the start-up window's refused ones do not count)."""
    return [e for e in watchdog.events("probe_failed") if "consecutive" in e]


def _console_events(watchdog: WatchdogProcess, name: str) -> list[str]:
    """Lines of the watchdog's console (logfmt, not a terminal) that report event `name`."""
    return [line for line in watchdog.output().splitlines() if f" event={name} " in f" {line} "]


def test_child_closing_stdout_and_stderr_is_still_supervised(run_watchdog) -> None:
    """A child that closes its output mid-run is probed on, costs no CPU, and stops cleanly."""
    watchdog = run_watchdog(fast_config(free_port(), ["--close-output-after", "0.5"]))
    [healthy] = watchdog.wait_for("child_healthy")
    watchdog.wait_for("child_output", stream="stdout", line="fault_app: closing stdout")
    watchdog.wait_for("child_output", stream="stderr", line="fault_app: closing stderr")
    # Both ends of the child's output were read to their end and closed, not left polled.
    poll(lambda: _pipes(watchdog.pid) == 0, timeout=5)
    probes = len(watchdog.events("probe_ok"))
    cpu_before, started = _cpu_seconds(watchdog.pid), time.monotonic()
    time.sleep(CPU_WINDOW)  # the window measured, not a wait for anything
    used, took = _cpu_seconds(watchdog.pid) - cpu_before, time.monotonic() - started
    assert used < CPU_LIMIT, f"the watchdog used {used:.2f}s of CPU in {took:.2f}s"
    watchdog.wait_for("probe_ok", count=probes + 4)  # every 300 ms: 6 or so in the window
    assert _counted_failures(watchdog) == []
    assert watchdog.events("restart_triggered") == []
    assert watchdog.events("child_exited") == []
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit(timeout=10) == 0
    [stopped] = watchdog.events("child_stopped")
    assert stopped["pid"] == healthy["pid"]
    assert stopped["sigkilled"] == 0
    assert stopped["survivors"] == 0
    assert pid_gone(healthy["pid"])


@pytest.mark.parametrize("megabytes", [1, 8])
def test_a_line_of_megabytes_is_cut_to_the_cap_and_kept_whole(run_watchdog, megabytes: int) -> None:
    """One N MB line reaches the log whole, in pieces within the cap, before the next line."""
    size = megabytes * 2**20
    config = fast_config(free_port(), ["--line-mb", str(megabytes)])
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy")
    [marker] = watchdog.wait_for("child_output", line=f"after the {size}-byte line")
    assert marker["stream"] == "stdout"
    events = watchdog.events()
    before = events[: events.index(marker)]
    pieces = [e["line"] for e in before if e["event"] == "child_output" and "M" in e["line"]]
    assert all(set(piece) == {"M"} for piece in pieces)
    assert sum(len(piece) for piece in pieces) == size
    assert max(len(piece) for piece in pieces) <= MAX_LINE_BYTES
    assert len(pieces) == -(-size // MAX_LINE_BYTES)  # as few pieces as the cap allows
    after = events[events.index(marker) :]
    assert not any(e["event"] == "child_output" and "M" in e["line"] for e in after[1:])
    # Responsive throughout: the probes went on, and go on, at their 300 ms pace.
    probes = len(watchdog.events("probe_ok"))
    watchdog.wait_for("probe_ok", count=probes + 3, timeout=3)
    assert _counted_failures(watchdog) == []
    assert watchdog.events("restart_triggered") == []
    started = time.monotonic()
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit(timeout=10) == 0
    assert time.monotonic() - started < 3


def test_log_dir_replaced_by_a_file_at_run_time(run_watchdog, tmp_path: Path) -> None:
    """With its log directory renamed away and a file in its place, the watchdog supervises
    on, says so once per file (not once a line), and writes to a directory put back.

    What happens: events go on into the renamed directory until each file's identity check
    (every second) finds its path gone; reopening fails (not a directory), which is told
    once per file on stderr, the state file's failure once as an event. The console keeps
    every event. Once a directory is back, each file is created afresh in it at its next
    event ("writing ... again"), the state file too; the renamed directory keeps the rest.
    """
    logs = tmp_path / "logs"
    config = fast_config(free_port(), ["--hang-after", "1.5"], resources={"interval": "200ms"})
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    logs.rename(tmp_path / "logs.moved")  # what was written so far stays in there
    logs.write_text("not a directory\n")
    # Each file notices within its 1 s identity check and fails to reopen its path. The hang
    # is still found and the child restarted: the console, the one log left, tells it.
    poll(lambda: _failures(watchdog), timeout=5)
    poll(lambda: _console_events(watchdog, "restart_triggered"), timeout=10)
    poll(lambda: len(_console_events(watchdog, "child_healthy")) >= 2, timeout=10)
    lines = watchdog.output().splitlines()
    [restart] = _console_events(watchdog, "restart_triggered")[:1]
    assert f"pid={healthy['pid']}" in restart
    assert lines.index(_failures(watchdog)[0]) < lines.index(restart)
    # Dozens of events went nowhere meanwhile; each file's failure was told once, the state
    # file's once (as an event, on the console too).
    failures = _failures(watchdog)
    assert len(failures) == len({line.split()[3] for line in failures}) <= len(CATEGORIES)
    assert all("Not a directory" in line for line in failures), failures
    assert len(_console_events(watchdog, "state_write_failed")) == 1
    assert len(_console_events(watchdog, "history_write_failed")) <= 1  # rewritten every 10 s
    assert watchdog.process.poll() is None, watchdog.output()
    # A directory back in place: the files are created in it and written again.
    logs.unlink()
    logs.mkdir()
    health_log = watchdog.category_path("health")
    poll(lambda: "probe_" in _read(health_log), timeout=5)
    poll(lambda: f"watchdog: writing {health_log} again" in watchdog.output(), timeout=5)
    poll(lambda: _console_events(watchdog, "state_write_restored"), timeout=5)
    # Supervision never stopped: the next hang is restarted, and logged in the new files.
    [again] = watchdog.wait_for("restart_triggered", timeout=10)
    assert again["pid"] != healthy["pid"]
    assert "consecutive failed probes" in again["reason"]
    assert _failures(watchdog) == failures
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit(timeout=10) == 0


def test_log_dir_made_read_only_at_run_time(run_watchdog, tmp_path: Path) -> None:
    """`chmod -w` does not stop root; a read-only mount does. In a mount namespace of its
    own, the watchdog's log directory is covered by an empty read-only mount (a plain
    remount would fail while the log files are open for writing), then uncovered again."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        pytest.skip("unshare/nsenter (util-linux) are not installed")
    logs, empty = tmp_path / "logs", tmp_path / "empty"
    logs.mkdir(mode=0o750)
    empty.mkdir(mode=0o750)
    wrapper = ("unshare", "--mount", "--propagation", "private")
    config = fast_config(free_port(), ["--hang-after", "1.5"], resources={"interval": "200ms"})
    watchdog = run_watchdog(config, wrapper)
    try:
        [healthy] = watchdog.wait_for("child_healthy")
    except AssertionError:
        if "unshare" in watchdog.output():
            pytest.skip(f"no mount namespace here: {watchdog.output()[-300:]}")
        raise

    def in_namespace(*command: str) -> None:
        target = ("nsenter", "--mount", "--target", str(watchdog.pid))
        subprocess.run([*target, *command], check=True, timeout=10)

    in_namespace("mount", "--bind", str(empty), str(logs))
    in_namespace("mount", "-o", "remount,bind,ro", str(logs))
    # Each file finds its path gone within its 1 s identity check and cannot make it again;
    # the console tells each file's failure once. The hang is still restarted (told on the
    # console), and the snapshot that could not be written is told too.
    poll(lambda: _failures(watchdog), timeout=5)
    poll(lambda: _console_events(watchdog, "restart_triggered"), timeout=10)
    poll(lambda: len(_console_events(watchdog, "child_healthy")) >= 2, timeout=10)
    failures = _failures(watchdog)
    assert all("Read-only file system" in line for line in failures), failures
    assert len(failures) == len({line.split()[3] for line in failures}) <= len(CATEGORIES)
    assert _console_events(watchdog, "diagnostics_failed"), "the snapshot could not be written"
    [restart] = _console_events(watchdog, "restart_triggered")[:1]
    assert f"pid={healthy['pid']}" in restart
    assert watchdog.process.poll() is None, watchdog.output()
    in_namespace("umount", str(logs))  # writable again
    health_log = watchdog.category_path("health")
    poll(lambda: f"watchdog: writing {health_log} again" in watchdog.output(), timeout=5)
    # The next hang's restart, of a later child, is in the files again with its snapshot.
    again = poll(
        lambda: [e for e in watchdog.events("restart_triggered") if e["pid"] != healthy["pid"]],
        timeout=10,
    )[0]
    assert again["diagnostics"], "snapshots are written again"
    assert Path(again["diagnostics"]).is_file()
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit(timeout=10) == 0


def _failures(watchdog: WatchdogProcess) -> list[str]:
    """The watchdog's reports of a log file it cannot write."""
    return [line for line in watchdog.output().splitlines() if line.startswith(CANNOT_WRITE)]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _holds(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether `condition` stays true, looked at every 50 ms, for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            return False
        time.sleep(0.05)
    return condition()


def _pids(path: Path) -> list[int]:
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_sigkilled_watchdog_takes_the_child_but_not_its_workers(
    run_watchdog, tmp_path: Path
) -> None:
    """SIGKILL of the watchdog ends the direct child within a second; workers of a
    uvicorn-style tree that do not watch their parent live on (README, "Stopping")."""
    pid_file = tmp_path / "workers.pids"
    config = fast_config(
        free_port(),
        ["--tree-workers", "2", "--workers-outlive-parent", "--pids-file", str(pid_file)],
    )
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    workers = poll(lambda: len(_pids(pid_file)) == 2 and _pids(pid_file), timeout=5)
    assert all(psutil.Process(w).ppid() == healthy["pid"] for w in workers)
    assert not gone_or_zombie(healthy["pid"])
    try:
        watchdog.send(signal.SIGKILL)
        watchdog.wait_exit(timeout=5)
        poll(lambda: gone_or_zombie(healthy["pid"]), timeout=1.0)
        # The truth as it is: the workers outlive both, adopted by some other reaper, still
        # in the old child's process group (so `kill -- -<old pid>` reaches them by hand).
        assert _holds(lambda: not any(gone_or_zombie(w) for w in workers), WORKERS_WATCHED)
        parents = {psutil.Process(w).ppid() for w in workers}
        assert parents.isdisjoint({healthy["pid"], watchdog.pid})
        assert {os.getpgid(w) for w in workers} == {healthy["pid"]}
    finally:
        for worker in workers:
            with contextlib.suppress(psutil.Error):
                psutil.Process(worker).kill()
    poll(lambda: all(gone_or_zombie(w) for w in workers), timeout=5)


def test_a_deleted_log_directory_is_made_again(run_watchdog, tmp_path: Path) -> None:
    """`rm -rf logs` at run time: the directory comes back with the next events, and with
    it the state file, so `watchdog status` never calls a running watchdog gone."""
    watchdog = run_watchdog(fast_config(free_port(), []))
    watchdog.wait_for("child_healthy")
    logs = tmp_path / "logs"
    shutil.rmtree(logs)
    poll((logs / "faulty.state.json").is_file, timeout=REFRESH + 5)  # remade by its refresh
    assert stat.S_IMODE(logs.stat().st_mode) == 0o750
    poll((logs / "faulty_health.log").is_file, timeout=5)  # probes go on, logged
    status = subprocess.run(
        [sys.executable, "-m", "watchdog", "status", "--config", str(watchdog.config_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert status.returncode == 0, status.stdout
