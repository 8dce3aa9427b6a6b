"""`watchdog init` writes a config `watchdog check` passes, and that serves behind the
held socket for real uvicorn and gunicorn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import APPS, free_port, watchdog_command

pytest.importorskip("uvicorn")
pytest.importorskip("gunicorn")


def _init(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchdog", "init", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
    )


def _servers(port: int) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "uvicorn": [python, "-m", "uvicorn", "fastapi_app:app", "--port", str(port)],
        "gunicorn": [python, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "wsgi_app:app"],
    }


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_init_then_check_then_run(server: str, tmp_path: Path, run_watchdog) -> None:
    port = free_port()
    output = tmp_path / "watchdog.yaml"
    written = _init(APPS, "--output", str(output), *_servers(port)[server])
    assert written.returncode == 0, written.stderr
    assert f"{server} behind a held socket on 127.0.0.1:{port}" in written.stdout
    checked = watchdog_command(output, "check")
    assert checked.returncode == 0, checked.stderr
    assert f"listen: 127.0.0.1:{port}" in checked.stdout

    # Run as written (the fixture writes the same keys back, without the comments).
    watchdog = run_watchdog(yaml.safe_load(output.read_text()))
    watchdog.wait_for("child_healthy", timeout=30)
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    [started] = watchdog.events("child_started")
    assert "--bind" not in started["command"]
    assert "--host" not in started["command"]


def test_a_plain_command_checks_and_says_what_to_edit(tmp_path: Path) -> None:
    written = _init(tmp_path, sys.executable, "app.py", "--port", "9000")
    assert written.returncode == 0, written.stderr
    assert "EDIT health.url" in written.stderr
    text = (tmp_path / "watchdog.yaml").read_text()
    assert "EDIT THIS" in text
    checked = watchdog_command(tmp_path / "watchdog.yaml", "check")
    assert checked.returncode == 0, checked.stderr


def test_it_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "watchdog.yaml").write_text("mine\n")
    refused = _init(tmp_path, "node", "server.js")
    assert refused.returncode == 1
    assert "watchdog.yaml exists; --force overwrites it" in refused.stderr
    assert (tmp_path / "watchdog.yaml").read_text() == "mine\n"
    forced = _init(tmp_path, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "the bundled demo" in forced.stdout
    assert watchdog_command(tmp_path / "watchdog.yaml", "check").returncode == 0
