"""How decisions and samples read in the logs: levels of transitions, fields of samples."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Reports
from watchdog.core.observations import DiskUsage, Sample
from watchdog.core.report import report_level, sample_record
from watchdog.core.rules.levels import Level, LevelChanged


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


def test_a_sample_carries_its_rss_in_whole_bytes() -> None:
    """rss_mb is rounded for a person; rss_bytes is the exact figure, for metrics."""
    rss = 123_456_789
    sample = Sample(
        at=1.0,
        procs=2,
        tree_rss=rss,
        tree_cpu=50.0,
        threads=4,
        fds=9,
        cpus=2,
        memory_limit=8 * 2**30,
        memory_limit_source="host",
        host_memory=40.0,
        host_cpu=20.0,
        disks=(DiskUsage("/", 50.0, 2**30),),
    )
    record = sample_record(sample, per_core=False)
    assert (record["rss_bytes"], record["rss_mb"]) == (rss, 117.7)
    assert isinstance(record["rss_bytes"], int)
