"""Command line: thin click commands; a bad config exits 2 before anything starts."""

from watchdog.cli import appcontrol, initcmd, observe, operate, supervise
from watchdog.cli.common import main

__all__ = ["appcontrol", "initcmd", "main", "observe", "operate", "supervise"]
