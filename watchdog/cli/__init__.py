"""Command line: thin click commands; a bad config exits 2 before anything starts."""

from watchdog.cli import appcontrol, observe, operate, supervise
from watchdog.cli.common import main

__all__ = ["appcontrol", "main", "observe", "operate", "supervise"]
