"""A first crash on the held socket: the app comes back at once, and the sweep of what the
crashed child left runs beside the children that follow it, never into them."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from tests.conftest import free_port, pid_gone, poll
from tests.served import held_config

# Its first run leaves an orphan that ignores SIGTERM, so that the sweep of what it left
# lasts its whole stop_timeout, and crashes; every later run serves the held socket, or
# with "hang" never answers.
CRASH_ONCE = """
import os, subprocess, sys, time
marker, fd, then = sys.argv[1], sys.argv[2], sys.argv[3]
if os.path.exists(marker):
    if then == "hang":
        time.sleep(60)
    os.execv(sys.executable, [sys.executable, "-m", "watchdog.demo", "--fd", fd])
open(marker, "w").close()
orphan = (
    "import os, signal, sys, time\\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
    "open(sys.argv[1], 'w').write(str(os.getpid()))\\n"
    "time.sleep(60)\\n"
)
written = marker + ".orphan"
subprocess.Popen([sys.executable, "-c", orphan, written])
deadline = time.monotonic() + 10
while not (os.path.exists(written) and os.path.getsize(written)) and time.monotonic() < deadline:
    time.sleep(0.01)
sys.exit(1)
"""


def _crash_once(marker: Path, then: str) -> list[str]:
    return [sys.executable, "-c", CRASH_ONCE, str(marker), "{fd}", then]


def test_an_overlap_restart_while_the_orphans_are_swept_keeps_its_new_child(
    run_watchdog, tmp_path: Path
) -> None:
    port = free_port()
    marker = tmp_path / "crashed"
    config = held_config(port, _crash_once(marker, "serve"), "overlap")
    config["diagnostics"] = {"enabled": False}  # the sweep starts at the first answer
    watchdog = run_watchdog(config)
    [exited] = watchdog.wait_for("child_exited", timeout=30)
    orphan = int(poll(lambda: (marker.parent / "crashed.orphan").read_text() or None, timeout=10))
    [healthy] = watchdog.wait_for("child_healthy", timeout=30)
    assert not pid_gone(orphan), "still being swept: it ignores SIGTERM for 5 s"
    watchdog.send(signal.SIGUSR1)  # an overlap restart while the sweep waits on the orphan
    [accepting] = watchdog.wait_for("child_accepting", timeout=30)
    [_, heir] = watchdog.wait_for("child_healthy", count=2, timeout=30)
    assert heir["pid"] == accepting["pid"] != healthy["pid"]
    assert not watchdog.events("restart_failed"), watchdog.events("child_stopped")
    [orphans] = watchdog.wait_for("orphans_stopped", timeout=30)
    assert orphans["sigkilled"] == 1
    assert pid_gone(orphan)
    assert exited["pid"] not in (healthy["pid"], heir["pid"])


def test_the_crashed_childs_late_snapshot_lists_what_it_left_not_the_next_child(
    run_watchdog, tmp_path: Path
) -> None:
    """Taken as the next child fails its start (no longer watched): its tree is not the
    crashed child's."""
    port = free_port()
    marker = tmp_path / "crashed"
    config = held_config(port, _crash_once(marker, "hang"), "stop_start")
    config["health"]["startup_timeout"] = "1s"
    config["diagnostics"] = {"enabled": True}
    watchdog = run_watchdog(config)
    [exited] = watchdog.wait_for("child_exited", timeout=30)
    orphan = int(poll(lambda: (marker.parent / "crashed.orphan").read_text() or None, timeout=10))
    [_, second] = watchdog.wait_for("child_started", count=2, timeout=30)
    [written] = watchdog.wait_for("diagnostics_written", timeout=30, pid=exited["pid"])
    snapshot = json.loads(Path(written["diagnostics"]).read_text())
    listed = [process["pid"] for process in snapshot["processes"]]
    assert second["pid"] not in listed, snapshot["processes"]
    assert orphan in listed
