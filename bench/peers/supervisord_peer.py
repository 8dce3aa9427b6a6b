"""supervisord 4 with superlance's httpok (HTTP probe) and memmon (RSS limit) as event
listeners; restarts by `supervisorctl restart`.

Both listeners wake on supervisord's TICK events, and the fastest tick is TICK_5: nothing in
them runs more often than every 5 s. httpok restarts on the first failed probe (it has no
count of failures in a row); memmon reads RSS by running `ps`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from peers.base import PYTHON, LaunchedTool, Run, Settings, started, wait_started

NAME = "supervisord"
TICK = 5  # seconds: TICK_5, the fastest event supervisord emits
WALL_CLOCK_TICK = TICK  # ticks fall on multiples of 5 s of the wall clock
BIN = Path(PYTHON).parent


def binary(name: str) -> str | None:
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name)


def unavailable() -> str | None:
    missing = [n for n in ("supervisord", "supervisorctl", "httpok", "memmon") if not binary(n)]
    if missing:
        return f"not installed ({', '.join(missing)}): pip install -e '.[bench]'"
    return None


def conf(run: Run, app_args: list[str], settings: Settings) -> str:
    timeout = max(1, round(settings.probe_timeout))  # httpok -t takes whole seconds
    here = run.workdir
    return f"""\
[unix_http_server]
file={here}/supervisor.sock

[supervisord]
nodaemon=true
logfile={here}/supervisord.log
pidfile={here}/supervisord.pid
childlogdir={here}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{here}/supervisor.sock

[program:app]
command={" ".join(run.app_command(app_args))}
autostart=true
autorestart=true
startsecs=1
startretries=1000
stopsignal=TERM
stopwaitsecs={max(1, round(settings.stop_timeout))}
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={here}/app.out

[eventlistener:httpok]
command={binary("httpok")} -p app -t {timeout} {run.url}
events=TICK_{TICK}
stderr_logfile={here}/httpok.err

[eventlistener:memmon]
command={binary("memmon")} -c -p app={settings.max_rss_mib}MB
events=TICK_{TICK}
stderr_logfile={here}/memmon.err
"""


def setup(settings: Settings) -> dict[str, Any]:
    timeout = max(1, round(settings.probe_timeout))
    return {
        "probe": f"httpok on TICK_{TICK} (every {TICK}s, the fastest tick), timeout {timeout}s, "
        "restarts on the first failure (no failure count)",
        "memory": f"memmon -c (tree RSS via ps) {settings.max_rss_mib}MB on TICK_{TICK}",
        "stop": f"stopsignal TERM to the group, SIGKILL after stopwaitsecs "
        f"{max(1, round(settings.stop_timeout))}",
        # Ticks fall on wall-clock multiples of 5 s: the first probe after the hang comes
        # 0-5 s later and fails after its timeout.
        "hang_floor_s": float(timeout),
        "hang_ceiling_s": float(TICK + timeout),
        "hang_rule": f"next TICK_{TICK} (0-{TICK}s) + {timeout}s timeout, one failure",
    }


class Handle(LaunchedTool):
    def __init__(self, run: Run, app_args: list[str], settings: Settings) -> None:
        self.run = run
        self.url = run.url
        self.notes: list[str] = []
        self.conf = run.workdir / "supervisord.conf"
        self.conf.write_text(conf(run, app_args, settings))
        self.process = run.launch(
            [binary("supervisord"), "-n", "-c", str(self.conf)], "supervisord"
        )
        self.requests: list[subprocess.Popen] = []
        wait_started(self, self.process)

    def restart(self) -> None:
        self.request(
            [binary("supervisorctl"), "-c", str(self.conf), "restart", "app"], "supervisorctl"
        )


def start(app_args: list[str], settings: Settings, workdir: Path) -> Handle:
    return started(Handle, app_args, settings, workdir)
