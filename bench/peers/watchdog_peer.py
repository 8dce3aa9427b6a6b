"""Ours: `python -m watchdog run --config X`, the app its child, restarts by `watchdog restart`."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import yaml

from peers.base import PYTHON, LaunchedTool, Run, Settings, duration, started, wait_started

NAME = "watchdog"
CAP_INTERVAL = 0.1


def unavailable() -> str | None:
    try:
        import watchdog.cli  # noqa: F401
    except ImportError as exc:
        return f"watchdog is not importable from {PYTHON}: {exc}"
    return None


def timeout_for(settings: Settings) -> float:
    # The watchdog wants the probe timeout below the interval; 1 ms under is the closest.
    return min(settings.probe_timeout, settings.probe_interval - 0.001)


def config(run: Run, app_args: list[str], settings: Settings, cap_interval: bool) -> dict[str, Any]:
    memory: dict[str, Any] = {"max_rss": f"{settings.max_rss_mib}MB"}
    if cap_interval:
        memory["cap_interval"] = duration(CAP_INTERVAL)
    return {
        "app": {
            "name": "bench",
            "command": run.app_command(app_args),
            "stop_timeout": duration(settings.stop_timeout),
        },
        "health": {
            "url": run.url,
            "interval": duration(settings.probe_interval),
            "timeout": duration(timeout_for(settings)),
            "max_failures": settings.max_failures,
            "startup_interval": "100ms",
        },
        # Every fault here is a one-off of a healthy app: no throttle, no crash backoff, no
        # crash loop in the way (the peers have none of these at their settings either).
        "restart": {
            "min_interval": "1s",
            "backoff_initial": "100ms",
            "backoff_reset": "200ms",
            "crash_loop": {"max_crashes": 1000},
        },
        "resources": {"interval": duration(settings.sample_interval), "memory": memory},
        "logging": {"dir": str(run.workdir / "logs")},
    }


@functools.cache
def accepts_cap_interval(workdir: Path) -> bool:
    """Whether the installed watchdog knows resources.memory.cap_interval (asked once)."""
    path = workdir / "probe-cap-interval.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "app": {"command": ["true"]},
                "resources": {"memory": {"max_rss": "200MB", "cap_interval": "100ms"}},
                "logging": {"dir": str(workdir / "logs-check")},
            }
        )
    )
    done = subprocess.run(
        [PYTHON, "-m", "watchdog", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode == 0 or "cap_interval" not in done.stdout + done.stderr


def setup(settings: Settings) -> dict[str, Any]:
    interval, timeout, failures = (
        settings.probe_interval,
        timeout_for(settings),
        settings.max_failures,
    )
    return {
        "probe": f"every {interval:g}s, timeout {timeout:g}s, {failures} failures in a row",
        "memory": f"max_rss {settings.max_rss_mib}MB (tree RSS), quick check every "
        f"{CAP_INTERVAL:g}s, full sample every {settings.sample_interval:g}s",
        "stop": f"SIGTERM to the app's group, SIGKILL after {settings.stop_timeout:g}s",
        # Probes start `interval` apart; the first to meet the hang starts within one
        # interval of it, and the last of `failures` fails `timeout` after it started.
        "hang_floor_s": (failures - 1) * interval + timeout,
        "hang_ceiling_s": failures * interval + timeout,
        "hang_rule": f"({failures}-1) x {interval:g}s + {timeout:g}s timeout, "
        f"+ up to one interval until the first failing probe",
    }


class Handle(LaunchedTool):
    def __init__(self, run: Run, app_args: list[str], settings: Settings) -> None:
        self.run = run
        self.url = run.url
        self.notes: list[str] = []
        cap = accepts_cap_interval(run.workdir)
        if not cap:
            self.notes.append("resources.memory.cap_interval rejected by this version: omitted")
        self.path = run.workdir / "watchdog.yaml"
        self.path.write_text(yaml.safe_dump(config(run, app_args, settings, cap)))
        self.process = run.launch(
            [PYTHON, "-m", "watchdog", "run", "--config", str(self.path)], "watchdog"
        )
        self.requests: list[subprocess.Popen] = []
        wait_started(self, self.process)

    def restart(self) -> None:
        argv = [PYTHON, "-m", "watchdog", "restart", "--force", "--config", str(self.path)]
        self.request(argv, "restart")


def start(app_args: list[str], settings: Settings, workdir: Path) -> Handle:
    return started(Handle, app_args, settings, workdir)
