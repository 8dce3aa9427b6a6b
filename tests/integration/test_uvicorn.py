"""A real uvicorn + FastAPI app under the watchdog, with one worker and with two."""

from __future__ import annotations

import signal
import sys

import httpx
import psutil
import pytest

from tests.conftest import APPS, fast_config, free_port, pid_gone, poll

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def _uvicorn_config(port: int, workers: int) -> dict:
    config = fast_config(
        port, [], health={"interval": "500ms", "timeout": "400ms", "startup_timeout": "30s"}
    )
    config["app"] = {
        "name": "uvicorn_app",
        "command": [
            sys.executable,
            "-m",
            "uvicorn",
            "fastapi_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        "cwd": str(APPS),
        "stop_timeout": "10s",
    }
    return config


def _tree(pid: int) -> list[int]:
    root = psutil.Process(pid)
    return [root.pid, *(child.pid for child in root.children(recursive=True))]


@pytest.mark.parametrize("workers", [1, 2])
def test_uvicorn_supervised_restarted_and_stopped(run_watchdog, workers: int) -> None:
    """uvicorn answers through the watchdog, restarts cleanly, and leaves no process behind."""
    port = free_port()
    watchdog = run_watchdog(_uvicorn_config(port, workers))
    [healthy] = watchdog.wait_for("child_healthy", timeout=30)
    answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5, trust_env=False)
    assert answer.json()["status"] == "ok"
    # --workers N > 1: a master plus N worker processes; --workers 1 is a single process.
    expected = workers + 1 if workers > 1 else 1
    old_tree = poll(lambda: (t := _tree(healthy["pid"])) and len(t) >= expected and t, timeout=20)

    watchdog.send(signal.SIGUSR1)
    [stopped] = watchdog.wait_for("child_stopped", timeout=20)
    assert stopped["sigkilled"] == 0, "uvicorn should stop on SIGTERM within stop_timeout"
    assert stopped["survivors"] == 0
    assert all(pid_gone(pid) for pid in old_tree)
    [_, back] = watchdog.wait_for("child_healthy", count=2, timeout=30)
    new_tree = poll(lambda: (t := _tree(back["pid"])) and len(t) >= expected and t, timeout=20)

    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit(timeout=30) == 0
    assert all(pid_gone(pid) for pid in new_tree)
