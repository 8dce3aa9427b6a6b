"""The functional core imports nothing that does I/O, however indirectly."""

from __future__ import annotations

import subprocess
import sys

# Not merely blocked at the top: whatever the core loads, transitively, is listed.
PROBE = """
import sys
import watchdog.core.controller
print(' '.join(sorted(sys.modules)))
"""
IO = {
    "asyncio",
    "socket",
    "selectors",
    "signal",
    "subprocess",
    "psutil",
    "httpx",
    "structlog",
    "yaml",
    "logging",
    "threading",
}


def _loaded() -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_the_core_loads_no_io_module_transitively() -> None:
    """A fresh interpreter importing the controller loads none of the I/O libraries."""
    loaded = _loaded()
    assert not {name.split(".")[0] for name in loaded} & IO


def test_the_core_loads_only_core_modules_of_ours() -> None:
    """Of our own package, only watchdog.core comes along: no config, logs or process."""
    ours = {name for name in _loaded() if name.startswith("watchdog")}
    assert ours - {"watchdog", "watchdog.core"}
    assert all(name.startswith("watchdog.core.") for name in ours - {"watchdog", "watchdog.core"})
