"""PM2 (npm `pm2`, fork mode, the app run by the Python interpreter); restarts by
`pm2 restart`. Its own PM2_HOME per run, so it never meets another PM2 on the machine.

PM2 has no HTTP health check: a hung app that stays alive is never restarted. Its memory
limit (`max_memory_restart`) is checked by its worker every PM2_WORKER_INTERVAL (30 s by
default; set to the sample interval here). Its stop signal is global (PM2_KILL_SIGNAL,
SIGINT by default, which a Python app turns into KeyboardInterrupt), set to SIGTERM here
like the other tools; `kill_timeout` is the wait before SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from peers.base import (
    FAULT_APP,
    PYTHON,
    ROOT,
    Run,
    Settings,
    app_below,
    end,
    gone,
    own_below,
    started,
    wait_started,
)

NAME = "pm2"
LOCAL = ROOT / "bench" / "peers" / "node_modules" / ".bin" / "pm2"


def binary() -> str | None:
    found = os.environ.get("PM2_BIN") or (str(LOCAL) if LOCAL.exists() else None)
    return found or shutil.which("pm2")


def unavailable() -> str | None:
    if not shutil.which("node"):
        return "node is not installed"
    if not binary():
        return "not installed: npm install --prefix bench/peers pm2"
    return None


def ecosystem(run: Run, app_args: list[str], settings: Settings) -> dict[str, Any]:
    return {
        "apps": [
            {
                "name": "app",
                "script": str(FAULT_APP),
                "interpreter": PYTHON,
                "args": ["--port", str(run.port), *app_args],
                "cwd": str(run.workdir),
                "exec_mode": "fork",
                "autorestart": True,
                "restart_delay": 0,
                "min_uptime": 1000,
                "max_restarts": 1000,
                "max_memory_restart": f"{settings.max_rss_mib}M",
                "kill_timeout": round(settings.stop_timeout * 1000),
                "treekill": True,
            }
        ]
    }


def setup(settings: Settings) -> dict[str, Any]:
    return {
        "probe": "none (PM2 has no HTTP health check)",
        "memory": f"max_memory_restart {settings.max_rss_mib}M (the process's RSS), checked "
        f"every PM2_WORKER_INTERVAL={settings.sample_interval * 1000:g}ms (default 30000)",
        "stop": f"PM2_KILL_SIGNAL=SIGTERM to the tree, SIGKILL after kill_timeout "
        f"{settings.stop_timeout * 1000:g}ms",
        "hang_floor_s": None,
        "hang_ceiling_s": None,
        "hang_rule": "never: no HTTP probe",
    }


class Handle:
    def __init__(self, run: Run, app_args: list[str], settings: Settings) -> None:
        self.run = run
        self.url = run.url
        self.notes: list[str] = []
        self.home = run.workdir / "pm2"
        self.env = {
            "PM2_HOME": str(self.home),
            "PM2_WORKER_INTERVAL": str(round(settings.sample_interval * 1000)),
            "PM2_KILL_SIGNAL": "SIGTERM",
        }
        path = run.workdir / "ecosystem.json"
        path.write_text(json.dumps(ecosystem(run, app_args, settings), indent=2))
        self.requests: list[subprocess.Popen] = []
        # The CLI starts the daemon (detached, a session of its own) and returns.
        run.command([binary(), "start", str(path)], timeout=60, **self.env)
        wait_started(self)

    def daemon_pid(self) -> int | None:
        try:
            pid = int((self.home / "pm2.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return None if gone(pid) else pid

    def app_pid(self) -> int | None:
        daemon = self.daemon_pid()
        return app_below([daemon], self.run.port) if daemon else None

    def own_pids(self) -> list[int]:
        daemon = self.daemon_pid()
        return own_below([daemon], self.app_pid()) if daemon else []

    def restart(self) -> None:
        self.requests.append(self.run.launch([binary(), "restart", "app"], "pm2-cli", **self.env))

    def stop(self) -> None:
        daemon = self.daemon_pid()
        try:
            for request in self.requests:
                end(request, timeout=10)
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.run.command([binary(), "kill"], timeout=30, **self.env)
        finally:
            if daemon and not gone(daemon):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(daemon, signal.SIGKILL)
            self.run.cleanup()


def start(app_args: list[str], settings: Settings, workdir: Path) -> Handle:
    return started(Handle, app_args, settings, workdir)
