"""Bad config input: refused by `run` before anything starts, and survived by a reload."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import fast_config, free_port, poll

SECRET = "s3cr3t-Pa55"


def _bomb() -> str:
    """9 levels of 9 aliases: 9**9 strings in under 400 bytes; at health.interval it was
    serialised whole for the error message (52 s and 5.5 GB)."""
    lines = ["a: &a [" + ",".join(['"lol"'] * 9) + "]"]
    for below, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{below}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _with(config: dict[str, Any], section: str, **values: object) -> str:
    changed = copy.deepcopy(config)
    changed[section] = {**changed.get(section, {}), **values}
    return yaml.safe_dump(changed)  # writes a lone surrogate as the escape "\uD800"


BAD_CONFIGS = {  # name -> (the file, given the good config; what reload_failed names)
    "surrogate-in-cwd": (lambda c: _with(c, "app", cwd="\ud800"), "app.cwd"),
    "surrogate-in-log-dir": (lambda c: _with(c, "logging", dir="logs\udc00"), "logging.dir"),
    "surrogate-in-env-value": (
        lambda c: _with(c, "app", env={"DB_PASSWORD": SECRET + "\ud800"}),
        "app.env.DB_PASSWORD",
    ),
    "alias-bomb": (
        lambda c: _bomb() + yaml.safe_dump(c).replace("interval: 300ms", "interval: *i"),
        "counting each YAML alias as what it names",
    ),
    "over-the-size-limit": (lambda c: yaml.safe_dump(c) + "#" * 1024**2, "is larger than"),
    "missing-cwd": (lambda c: _with(c, "app", cwd="/nonexistent/app"), "app.cwd"),
    "missing-program": (lambda c: _with(c, "app", command=["no-such-program-here"]), "app.command"),
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("bad", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_bad_reload_never_stops_supervision(run_watchdog, bad: tuple[Any, str]) -> None:
    """SIGHUP with a bad config: reload_failed naming the problem, the same child probed on,
    no secret written anywhere, and SIGTERM still obeyed promptly."""
    make, named = bad
    config = fast_config(free_port(), [])
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    watchdog.config_path.write_text(make(config), encoding="utf-8")
    watchdog.send(signal.SIGHUP)
    [failed] = watchdog.wait_for("reload_failed", timeout=15)
    assert any(named in line for line in failed["errors"]), failed["errors"]
    probes = len(watchdog.events("probe_ok"))
    watchdog.wait_for("probe_ok", count=probes + 2)  # the loop goes on: still probing
    assert [e["pid"] for e in watchdog.events("child_started")] == [healthy["pid"]]
    for written in (watchdog.workdir / "logs").iterdir():  # logs and the state file
        if written.is_file():
            assert SECRET not in written.read_text(errors="replace"), written
    stopping = time.monotonic()
    watchdog.send(signal.SIGTERM)
    assert watchdog.wait_exit(timeout=15) == 0
    assert time.monotonic() - stopping < 10  # the child's stop_timeout is 2 s


def _run(workdir: Path, config: dict[str, Any] | str, *flags: str) -> subprocess.Popen[str]:
    path = workdir / "watchdog.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return subprocess.Popen(
        [sys.executable, "-m", "watchdog", "run", "--config", str(path), *flags],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=workdir,
    )


@pytest.mark.parametrize(
    ("app", "named"),
    [
        ({"cwd": "/nonexistent/app"}, "app.cwd: expected an existing directory"),
        ({"command": ["no-such-program-here"]}, "app.command: expected a program found on PATH"),
    ],
)
def test_run_refuses_an_app_that_cannot_start(
    tmp_path: Path, app: dict[str, Any], named: str
) -> None:
    """A missing cwd or program is exit 2 before anything starts, which systemd will not
    restart (RestartPreventExitStatus=2); it used to be five spawn failures and exit 3."""
    config = fast_config(free_port(), [])
    config["app"].update(app)
    watchdog = _run(tmp_path, config)
    output, _ = watchdog.communicate(timeout=30)
    assert watchdog.returncode == 2, output
    assert named in output
    assert not (tmp_path / "logs").exists()


def test_app_listen_in_use_is_named(tmp_path: Path) -> None:
    """An app.listen address another process holds is exit 2 naming the key and the holder."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        config = fast_config(free_port(), [])
        config["app"]["listen"] = f"127.0.0.1:{port}"
        watchdog = _run(tmp_path, config)
        output, _ = watchdog.communicate(timeout=30)
    assert watchdog.returncode == 2, output
    assert f"app.listen: port {port} is already in use by pid {os.getpid()} (" in output


def _events(workdir: Path, name: str, category: str = "") -> list[dict[str, Any]]:
    log = workdir / "logs" / f"faulty{category}.log"
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    return [event for line in lines if (event := json.loads(line))["event"] == name]


def test_short_interval_with_timeout_flags_runs_and_survives_a_reload(tmp_path: Path) -> None:
    """run --interval 300ms --timeout 100ms supervises (the 5 s default timeout would refuse
    it), and a reload lays the same flags over the file again: nothing changed."""
    config = fast_config(free_port(), [])
    config["health"] = {**config["health"], "interval": "60s", "timeout": "5s"}
    watchdog = _run(tmp_path, config, "--interval", "300ms", "--timeout", "100ms")
    try:
        poll(
            lambda: (
                len(_events(tmp_path, "probe_ok", "_health")) >= 3 or watchdog.poll() is not None
            ),
            15,
        )
        assert watchdog.poll() is None, watchdog.communicate()[0]
        watchdog.send_signal(signal.SIGHUP)
        [reloaded] = poll(lambda: _events(tmp_path, "config_reloaded"), 15)
        assert reloaded["changed"] == []
    finally:
        watchdog.send_signal(signal.SIGTERM)
        watchdog.communicate(timeout=15)
    assert watchdog.returncode == 0
