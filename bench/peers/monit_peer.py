"""monit 5 (`monit -I`, in the foreground), checking the app by pidfile every cycle; restarts
by `monit restart`.

monit is no parent: its start program must leave the app running in the background and
write a pidfile, and its stop program does the stopping. monit has no SIGTERM-then-SIGKILL
of its own, so the stop program here does what a careful user's would: SIGTERM, wait up to
the stop timeout, SIGKILL. A cycle is at least 1 s (`set daemon 1`).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

from peers.base import TAG, LaunchedTool, Run, Settings, gone, started, wait_started

NAME = "monit"
# monit holds its connection tests back for the start timeout after every start ("paused
# while the process is starting"): 2 s, not the default 30 s, or no hang would show for
# 30 s. The app answers within 0.2 s, so 2 s is ample.
START_TIMEOUT = 2


def unavailable() -> str | None:
    if not shutil.which("monit"):
        return "not installed: apt-get install -y monit"
    return None


def cycle(settings: Settings) -> int:
    return max(1, round(settings.probe_interval))  # whole seconds, at least 1


def scripts(run: Run, app_args: list[str], settings: Settings) -> tuple[str, str]:
    here = shlex.quote(str(run.workdir))
    command = shlex.join(run.app_command(app_args))
    steps = max(1, round(settings.stop_timeout / 0.05))
    start = f"""#!/bin/sh
cd {here} || exit 1
export {TAG}={run.tag}
nohup {command} >>app.out 2>&1 </dev/null &
echo $! > app.pid
"""
    stop = f"""#!/bin/sh
pid=$(cat {here}/app.pid 2>/dev/null) || exit 0
kill -TERM "$pid" 2>/dev/null || exit 0
i=0
while [ "$i" -lt {steps} ]; do
    kill -0 "$pid" 2>/dev/null || exit 0
    sleep 0.05
    i=$((i + 1))
done
kill -KILL "$pid" 2>/dev/null
exit 0
"""
    return start, stop


def monitrc(run: Run, settings: Settings) -> str:
    here = run.workdir
    timeout = max(1, round(settings.probe_timeout))
    return f"""\
set daemon {cycle(settings)}
set logfile {here}/monit.log
set pidfile {here}/monit.pid
set idfile {here}/monit.id
set statefile {here}/monit.state
set httpd unixsocket {here}/monit.sock
    allow bench:bench

check process app with pidfile {here}/app.pid
    start program = "{here}/start.sh" with timeout {START_TIMEOUT} seconds
    stop program = "{here}/stop.sh" with timeout {round(settings.stop_timeout) + 5} seconds
    if failed host 127.0.0.1 port {run.port} protocol http request "/health"
        with timeout {timeout} seconds for {settings.max_failures} cycles then restart
    if totalmemory > {settings.max_rss_mib} MB then restart
"""


def setup(settings: Settings) -> dict[str, Any]:
    every, timeout, failures = (
        cycle(settings),
        max(1, round(settings.probe_timeout)),
        settings.max_failures,
    )
    return {
        "probe": f"http test each cycle (set daemon {every}), timeout {timeout}s, "
        f"for {failures} cycles",
        "memory": f"totalmemory (tree RSS) > {settings.max_rss_mib} MB, each cycle",
        "stop": f"stop program: SIGTERM, SIGKILL after {settings.stop_timeout:g}s "
        "(monit has no escalation of its own; the script does it)",
        # A cycle is the checks plus `set daemon` seconds of sleep, so a failing test that
        # waits out its timeout stretches its cycle by that much; the first test to meet
        # the hang starts within one sleep of it.
        "hang_floor_s": float((failures - 1) * (every + timeout) + timeout),
        "hang_ceiling_s": float((failures - 1) * (every + timeout) + timeout + every),
        "hang_rule": f"up to {every}s to the next test, then {failures} failing tests "
        f"{every}s + {timeout}s apart, the last after its {timeout}s timeout",
    }


class Handle(LaunchedTool):
    def __init__(self, run: Run, app_args: list[str], settings: Settings) -> None:
        self.run = run
        self.url = run.url
        self.notes: list[str] = []
        here = run.workdir
        for name, text in zip(
            ("start.sh", "stop.sh"), scripts(run, app_args, settings), strict=True
        ):
            (here / name).write_text(text)
            (here / name).chmod(0o755)
        self.rc = here / "monitrc"
        self.rc.write_text(monitrc(run, settings))
        self.rc.chmod(0o600)  # monit refuses a control file others can read
        self.process = run.launch(["monit", "-I", "-c", str(self.rc)], "monit")
        self.requests: list[subprocess.Popen] = []
        wait_started(self, self.process)

    def app_pid(self) -> int | None:
        try:
            pid = int((self.run.workdir / "app.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return None if gone(pid) else pid

    def restart(self) -> None:
        self.request(["monit", "-c", str(self.rc), "restart", "app"], "cli")

    # stop: monit leaves its services running when it exits; the run's clean-up ends them.


def start(app_args: list[str], settings: Settings, workdir: Path) -> Handle:
    return started(Handle, app_args, settings, workdir)
