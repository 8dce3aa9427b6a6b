"""`watchdog run` at a real terminal (a pseudo-terminal): lines for a person, within 100 columns."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import fast_config, free_port

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WIDTH = 100


def _read_until(fd: int, wanted: str, timeout: float) -> str:
    """What the terminal showed until `wanted` appeared (or the time ran out)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed: the watchdog exited
            break
        if not chunk:
            break
        seen += chunk
    return seen.decode(errors="replace")


def _run_at_a_terminal(
    tmp_path: Path, *args: str, env: dict[str, str], app: tuple[str, ...] = (),
    until: str = "app healthy",
) -> str:
    """`watchdog run` on a pty until `until` shows, then SIGINT; what it printed."""
    port = free_port()
    config = fast_config(port, list(app), resources={"interval": "200ms"})
    config["logging"]["level"] = "info"
    path = tmp_path / "watchdog.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "watchdog", "run", "--config", str(path), *args]
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the watchdog, at the terminal
        try:
            os.chdir(tmp_path)
            os.execve(sys.executable, command, {**os.environ, **env})
        finally:
            os._exit(127)  # never back into the test runner
    try:
        shown = _read_until(fd, until, 15.0)
        # Long enough for several probes and samples to have been logged.
        shown += _read_until(fd, "never printed", 1.5)
        os.kill(pid, signal.SIGINT)
        shown += _read_until(fd, "never printed", 10.0)
    finally:
        with_code = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(with_code[1]) == 0, shown
    log = (tmp_path / "logs" / "faulty_health.log").read_text()
    assert log.count('"probe_ok"') >= 3  # the files have every probe, whatever the terminal shows
    return shown


def test_a_terminal_gets_lines_for_a_person(tmp_path: Path) -> None:
    shown = _run_at_a_terminal(tmp_path, env={"NO_COLOR": ""})
    lines = ANSI.sub("", shown).replace("\r\n", "\n").splitlines()
    text = "\n".join(lines)
    assert "\x1b[" in shown  # colour, at a terminal
    assert re.search(r"^\d\d:\d\d:\d\dZ watchdog \S+ started, pid \d+$", text, re.M)
    assert re.search(r"^  command  .*fault_app\.py --port \d+", text, re.M)
    assert re.search(r"^  health   http://127\.0\.0\.1:\d+/health$", text, re.M)
    assert "  pace     probe every 300ms" in text
    assert "  limits   memory 80%/90%" in text
    assert re.search(r"^  logs     .*logs$", text, re.M)
    assert re.search(r"app healthy, pid \d+", text)
    assert "probe_ok" not in text
    assert "resource_sample" not in text
    assert "app stopped" in text or "child_stopped" in text
    too_wide = [line for line in lines if len(line) > WIDTH]
    assert not too_wide


def test_verbose_shows_probes_and_no_color_drops_colour(tmp_path: Path) -> None:
    shown = _run_at_a_terminal(tmp_path, "--verbose", env={"NO_COLOR": "1"})
    assert "\x1b[" not in shown
    assert "probe_ok" in shown
    assert "resource_sample" in shown
    assert all(len(line) <= WIDTH for line in shown.replace("\r\n", "\n").splitlines())


def test_a_restart_shows_with_its_reason(tmp_path: Path) -> None:
    shown = _run_at_a_terminal(
        tmp_path, env={"NO_COLOR": "1"}, app=("--hang-after", "0.5"), until="replacing pid"
    )
    text = shown.replace("\r\n", "\n")
    assert re.search(r"^\d\d:\d\d:\d\dZ WARNING probe failed 1/3: ", text, re.M)
    restart = r"^\d\d:\d\d:\d\dZ WARNING restarting pid \d+: 3 consecutive failed probes"
    assert re.search(restart, text, re.M), text
    assert re.search(r"app started, pid \d+, replacing pid \d+", text)
    assert all(len(line) <= WIDTH for line in text.splitlines())
