"""How decisions read in the logs: the level of a transition, and where it goes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Reports
from watchdog.levels import Level, LevelChanged
from watchdog.report import report_level


def logged(change: LevelChanged) -> dict[str, Any]:
    reports = Reports()
    report_level(reports, change)
    [(name, fields)] = reports.calls
    assert name == "level_changed"
    return fields


@pytest.mark.parametrize(
    ("new", "context", "level"),
    [
        (Level.CRITICAL, False, "error"),
        (Level.WARNING, False, "warning"),
        (Level.NORMAL, False, "info"),
        # A busy host is not a sick app: never an error line, never red on a terminal.
        (Level.CRITICAL, True, "warning"),
        (Level.WARNING, True, "warning"),
        (Level.NORMAL, True, "info"),
    ],
)
def test_a_context_figure_is_never_logged_as_an_error(
    new: Level, context: bool, level: str
) -> None:
    fields = logged(LevelChanged("host_cpu", Level.NORMAL, new, 99.0, "High host CPU", context))
    assert (fields["level"], fields["status"], fields["context"]) == (level, new.label, context)


def test_memory_transitions_go_to_the_memory_file_too() -> None:
    assert logged(LevelChanged("memory", Level.NORMAL, Level.WARNING, 85.0, "m"))["also"] == (
        "memory",
    )
    assert logged(LevelChanged("cpu", Level.NORMAL, Level.WARNING, 85.0, "c"))["also"] == ()
