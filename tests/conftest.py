"""Shared fixtures: a real `watchdog run` process and a way to read its events."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

APPS = Path(__file__).parent / "apps"
FAULT_APP = APPS / "fault_app.py"


class Reports:
    """A `report` callable that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, /, **fields: Any) -> None:
        self.calls.append((name, fields))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [fields for called, fields in self.calls if called == name]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def poll(condition: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """The first truthy value of `condition` within `timeout` seconds, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def pid_gone(pid: int) -> bool:
    """True once `pid` no longer exists, not even as a zombie."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_DEAD
    except psutil.NoSuchProcess:
        return True


def gone_or_zombie(pid: int) -> bool:
    """Gone, or a zombie: our fixture cannot reap what PID 1 adopted, so a zombie is gone."""
    try:
        return psutil.Process(pid).status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return True


def watchdog_command(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A `watchdog` command (status, restart, restarts, ...) against `config`, bounded."""
    return subprocess.run(
        [sys.executable, "-m", "watchdog", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def fast_config(port: int, app_args: list[str], **sections: dict[str, Any]) -> dict[str, Any]:
    """A config with sub-second pacing around the fault app; sections override keys."""
    config: dict[str, Any] = {
        "app": {
            "name": "faulty",
            "command": [sys.executable, str(FAULT_APP), "--port", str(port), *app_args],
            "stop_timeout": "2s",
        },
        "health": {
            "url": f"http://127.0.0.1:{port}/health",
            "interval": "300ms",
            "timeout": "200ms",
            "max_failures": 3,
            "startup_timeout": "5s",
            "startup_interval": "50ms",
        },
        "restart": {
            "min_interval": "100ms",
            "backoff_initial": "100ms",
            "backoff_max": "400ms",
            "crash_loop": {"max_crashes": 50, "window": "1m"},
        },
        "logging": {"dir": "logs", "level": "debug"},
    }
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return config


class WatchdogProcess:
    """`python -m watchdog run` in a subprocess, observed through its JSON log file."""

    def __init__(
        self, workdir: Path, config: dict[str, Any], wrapper: tuple[str, ...] = ()
    ) -> None:
        self.workdir = workdir
        self.config_path = workdir / "watchdog.yaml"
        self.write_config(config)
        self.name = name = config["app"].get("name", "api")
        self.log_path = workdir / config.get("logging", {}).get("dir", "logs") / f"{name}.log"
        self.output_path = workdir / "watchdog.out"
        with open(self.output_path, "wb") as output:
            self.process = subprocess.Popen(
                [
                    *wrapper,  # e.g. a namespace to run in; it must exec the watchdog
                    sys.executable,
                    "-m",
                    "watchdog",
                    "run",
                    "--config",
                    str(self.config_path),
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(config))

    @property
    def pid(self) -> int:
        return self.process.pid

    def category_path(self, category: str) -> Path:
        suffix = "" if category == "main" else f"_{category}"
        return self.log_path.with_name(f"{self.name}{suffix}.log")

    def lines(self, category: str = "main") -> list[str]:
        path = self.category_path(category)
        if not path.is_file():  # missing, or a test's stand-in such as /dev/full
            return []
        return path.read_text(errors="replace").splitlines()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every event in time order, from the category files (each event once)."""
        merged = list(self.lines("main"))
        # An event may be copied to several category files; count each copy once.
        seen: set[str] = set()
        for category in ("health", "memory", "performance"):
            fresh = [line for line in self.lines(category) if line not in seen]
            seen.update(fresh)
            merged.extend(fresh)
        parsed = []
        for line in merged:
            with contextlib.suppress(json.JSONDecodeError):
                parsed.append(json.loads(line))
        parsed.sort(key=lambda event: datetime.fromisoformat(event["timestamp"]))
        return [e for e in parsed if name is None or e["event"] == name]

    def wait_for(
        self, name: str, count: int = 1, timeout: float = 10.0, **fields: Any
    ) -> list[dict[str, Any]]:
        """The first `count` events called `name` whose fields match, waiting up to `timeout`."""

        def found() -> list[dict[str, Any]] | None:
            matches = [
                e
                for e in self.events(name)
                if all(e.get(key) == value for key, value in fields.items())
            ]
            if self.process.poll() is not None and len(matches) < count:
                raise AssertionError(
                    f"watchdog exited ({self.process.returncode}) before "
                    f"{count} x {name}:\n{self.output()}"
                )
            return matches[:count] if len(matches) >= count else None

        try:
            return poll(found, timeout)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; waiting for {count} x {name} {fields}\n"
                f"events: {[e['event'] for e in self.events()]}"
            ) from None

    def child_pid(self) -> int:
        return self.events("child_started")[-1]["pid"]

    def send(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait_exit(self, timeout: float = 15.0) -> int:
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def run_watchdog(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], WatchdogProcess]]:
    started: list[WatchdogProcess] = []

    def start(config: dict[str, Any], wrapper: tuple[str, ...] = ()) -> WatchdogProcess:
        watchdog = WatchdogProcess(tmp_path, config, wrapper)
        started.append(watchdog)
        return watchdog

    yield start
    for watchdog in started:
        watchdog.stop()
    # Whatever a failed test left behind must not leak into the next one.
    for pid_file in tmp_path.glob("*.pids"):
        for line in pid_file.read_text().split():
            with contextlib.suppress(psutil.Error):
                psutil.Process(int(line)).kill()
