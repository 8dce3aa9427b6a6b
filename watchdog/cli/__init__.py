"""Command line: thin click commands; a bad config exits 2 before anything starts.

Each command's module is imported when that command is asked for (common.COMMANDS)."""

from watchdog.cli.common import main

__all__ = ["main"]
