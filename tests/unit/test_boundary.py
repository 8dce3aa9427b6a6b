"""The functional core imports nothing from the outside world."""

from __future__ import annotations

import subprocess
import sys

BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'psutil', 'httpx', 'structlog', 'asyncio', 'subprocess'}:
            raise ImportError('the core must not import ' + name)
sys.meta_path.insert(0, Block())
import watchdog.policy, watchdog.state, watchdog.observations, watchdog.config
print('ok')
"""


def test_policy_imports_without_io_libraries() -> None:
    """policy, state, observations and config load with psutil, httpx and asyncio blocked."""
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
