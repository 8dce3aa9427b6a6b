"""Benchmark: the watchdog's own memory while it supervises, and where it goes.

    python bench/own_memory.py [--runs 3] [--settle 10] [--python PYTHON]

Starts `watchdog run` on the bundled demo app (loopback only) with a probe every 1 s, a
full resource sample every 1 s and `resources.memory.max_rss: 200MB`, waits `--settle`
seconds past the first healthy probe, then reads the watchdog process's RSS and USS
(psutil `memory_full_info`) and its /proc/<pid>/smaps_rollup. Figures are medians of
`--runs` runs. Then:
  - floor: the same readings for a bare interpreter, then with asyncio, httpx (and h11,
    which an http probe adds), psutil, structlog, yaml and click imported, one at a time;
  - imports: one more run under `python -X importtime`, summarised as the top-level
    packages the running watchdog loaded and its slowest imports (cumulative).
The watchdog runs through `python -c`, which writes at exit what it had loaded.
`--python` is the interpreter that runs the watchdog (default: this one); measure it as a
user installs it (`pip install .`, no extras). Each run is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml
from peers.base import events, free_port, wait_for

MIB = 2**20
HTTPX = "asyncio, httpx"
# What an http probe adds: h11, its parser (an https probe would load httpx's transport,
# httpcore with anyio, and a CA bundle, as the "httpx's transport" line shows).
PROBE = f"{HTTPX}, h11"
FLOOR = (
    ("python", "os"),
    ("+ ssl (which asyncio imports)", "ssl"),
    ("+ asyncio", "asyncio"),
    ("+ httpx", HTTPX),
    ("(+ httpx's transport, for https only)", f"{HTTPX}, httpcore, h11, anyio._backends._asyncio"),
    ("+ h11 (the http probe's parser)", PROBE),
    ("+ psutil", f"{PROBE}, psutil"),
    ("+ structlog", f"{PROBE}, psutil, structlog"),
    ("+ yaml, click", f"{PROBE}, psutil, structlog, yaml, click"),
)


def write_config(workdir: Path) -> Path:
    port = free_port()
    config = {
        "app": {
            "name": "bench",
            "command": ["{python}", "-m", "watchdog.demo", "--port", str(port)],
        },
        "health": {
            "url": f"http://127.0.0.1:{port}/health",
            "interval": "1s",
            "timeout": "500ms",
        },
        "resources": {"interval": "1s", "memory": {"max_rss": "200MB"}},
        "logging": {"dir": "logs"},
    }
    path = workdir / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def readings(pid: int) -> dict[str, float]:
    info = psutil.Process(pid).memory_full_info()
    rollup: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            rollup[name] = int(value.split()[0]) / 1024
    return {
        "rss_mib": info.rss / MIB,
        "uss_mib": info.uss / MIB,
        "pss_mib": info.pss / MIB,
        "anonymous_mib": rollup.get("Anonymous", 0.0),
        "file_backed_mib": rollup.get("Rss", 0.0) - rollup.get("Anonymous", 0.0),
    }


# `python -m watchdog`, writing at exit the top-level packages it had loaded.
RUN = (
    "import atexit, json, os, runpy, sys\n"
    "def loaded():\n"
    "    names = sorted({name.split('.')[0] for name in sys.modules})\n"
    "    with open(os.environ['BENCH_MODULES'], 'w') as out:\n"
    "        json.dump({'count': len(sys.modules), 'packages': names}, out)\n"
    "atexit.register(loaded)\n"
    "runpy.run_module('watchdog', run_name='__main__', alter_sys=True)\n"
)


def supervise(python: str, settle: float, flags: tuple[str, ...] = ()) -> tuple[dict, str, dict]:
    """One `watchdog run`: its readings after `settle` s, its stderr, what it loaded."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = write_config(workdir)
        stderr = workdir / "stderr"
        with stderr.open("w") as err:
            process = subprocess.Popen(
                [python, *flags, "-c", RUN, "run", "--config", str(path)],
                cwd=workdir,
                env={**os.environ, "BENCH_MODULES": str(workdir / "modules.json")},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            wait_for(lambda: events(workdir / "logs" / "bench.log", "child_healthy"), 30, 0.05)
            time.sleep(settle)
            figures = readings(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        loaded = json.loads((workdir / "modules.json").read_text())
        return figures, stderr.read_text(), loaded


def floor(python: str, modules: str) -> dict[str, float]:
    """A bare interpreter holding `modules` imported, read from outside as the watchdog is."""
    code = f"import sys, {modules}; print('ready', flush=True); sys.stdin.read()"
    process = subprocess.Popen(
        [python, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        return readings(process.pid)
    finally:
        process.kill()
        process.wait(10)


IMPORT = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def imports(stderr: str, loaded: dict, top: int = 15) -> dict[str, object]:
    rows = [m.groups() for m in map(IMPORT.match, stderr.splitlines()) if m]
    packages = loaded["packages"]
    # A package's heaviest row is its first import, which holds its whole subtree.
    heaviest: dict[str, int] = {}
    for _, cumulative, _, name in rows:
        package = name.split(".")[0]
        if package in packages:  # not an attempt that failed (e.g. an optional extra)
            heaviest[package] = max(heaviest.get(package, 0), int(cumulative))
    slowest = sorted(((us, name) for name, us in heaviest.items()), reverse=True)[:top]
    return {
        "modules_loaded": loaded["count"],
        "third_party": [name for name in packages if name not in sys.stdlib_module_names],
        "stdlib_top_level": [name for name in packages if name in sys.stdlib_module_names],
        "slowest_packages_cumulative_ms": {name: round(us / 1000, 1) for us, name in slowest},
    }


def median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(run[key] for run in runs), 1) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    # Absolute, as each run starts in its own directory; not resolved, or a venv is left.
    args.python = str(Path(shutil.which(args.python) or args.python).absolute())
    runs = [supervise(args.python, args.settle)[0] for _ in range(args.runs)]
    _, stderr, loaded = supervise(args.python, min(args.settle, 3.0), ("-X", "importtime"))
    results = {
        "watchdog_run": median(runs),
        "runs": args.runs,
        "floor": {label: floor(args.python, modules) for label, modules in FLOOR},
        "imports": imports(stderr, loaded),
        "host_load_1min": round(psutil.getloadavg()[0], 2),
    }
    for label, figures in results["floor"].items():
        results["floor"][label] = {key: round(value, 1) for key, value in figures.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
