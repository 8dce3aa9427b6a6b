"""End to end: `watchdog restart` waits for the restart to end and says how it ended."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.conftest import fast_config, free_port, watchdog_command


def _overlapping_demo(port: int, marker: Path) -> dict:
    """The bundled demo behind a held socket; with `marker` present, a new one dies at boot."""
    config = fast_config(port, [], restart={"strategy": "overlap"})
    crash_if = (
        "import os, sys, runpy\n"
        "if os.path.exists(sys.argv[1]):\n"
        "    sys.exit('deploy broken')\n"
        "sys.argv = ['demo', '--fd', '3']\n"
        "runpy.run_module('watchdog.demo', run_name='__main__')\n"
    )
    config["app"] = {
        "name": "held",
        "command": [sys.executable, "-c", crash_if, str(marker)],
        "listen": f"127.0.0.1:{port}",
        "stop_timeout": "2s",
    }
    return config

def test_restart_says_when_the_new_child_is_healthy(run_watchdog) -> None:
    watchdog = run_watchdog(fast_config(free_port(), [], restart={"min_interval": "1h"}))
    [first] = watchdog.wait_for("child_healthy")
    done = watchdog_command(watchdog.config_path, "restart", "--force")
    assert done.returncode == 0, done.stderr
    [_, second] = watchdog.wait_for("child_healthy", count=2)
    assert re.fullmatch(
        rf"watchdog: restarting faulty now\n"
        rf"watchdog: faulty restarted: pid {second['pid']} healthy after \d+(\.\d+)?m?s\n",
        done.stdout,
    ), done.stdout
    assert second["pid"] != first["pid"]

def test_a_failed_overlap_restart_is_the_commands_answer(run_watchdog, tmp_path: Path) -> None:
    """The new child dies at boot: the command says so and exits 1, the old one serves on,
    and the failed child's stop is logged like any other."""
    port, marker = free_port(), tmp_path / "broken"
    watchdog = run_watchdog(_overlapping_demo(port, marker))
    [first] = watchdog.wait_for("child_healthy")
    marker.touch()
    failed = watchdog_command(watchdog.config_path, "restart", "--force")
    assert failed.returncode == 1
    assert failed.stdout == "watchdog: restarting held now\n"
    assert "watchdog: restart of held failed: the new child exited while starting" in failed.stderr
    assert f"; pid {first['pid']} keeps serving" in failed.stderr
    [restart_failed] = watchdog.wait_for("restart_failed")
    [stopping] = watchdog.wait_for("child_stopping")
    [stopped] = watchdog.wait_for("child_stopped")
    assert stopping["pid"] == stopped["pid"] == restart_failed["pid"] != first["pid"]
