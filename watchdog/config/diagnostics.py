"""The `diagnostics` section: the snapshot taken before the watchdog kills a sick child."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from watchdog.config.reader import Section
from watchdog.config.reading import Reading

SUBDIRECTORY = "diagnostics"  # under logging.dir unless diagnostics.directory says otherwise


@dataclass(frozen=True, slots=True)
class DiagnosticsConfig:
    enabled: bool
    # The snapshot holds up the restart, so it is bounded; what is not read by then is noted.
    timeout: float
    output_lines: int  # the child's last lines of output kept in the snapshot
    keep: int  # snapshot files kept, newest first
    max_age_days: int
    # None: look for py-spy on PATH and beside the running Python (the `diagnostics` extra).
    py_spy: str | None
    directory: Path


def diagnostics_rules(reading: Reading) -> None:
    directory = reading["diagnostics.directory"]
    reading["diagnostics.directory"] = directory or reading["logging.dir"] / SUBDIRECTORY


def parse_diagnostics(section: Section, log_dir: Path, base_dir: Path) -> DiagnosticsConfig:
    """The section alone, read from `section` as parse reads it (its unknown keys are left
    for the caller's section.finish())."""
    reading = Reading({"diagnostics": section}, base_dir)
    reading.read("diagnostics")
    reading["logging.dir"] = log_dir
    diagnostics_rules(reading)
    return reading.build("diagnostics", {"diagnostics": DiagnosticsConfig})
