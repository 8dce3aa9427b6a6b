"""The `diagnostics` section: the snapshot taken before the watchdog kills a sick child."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.config import convert
from watchdog.config.reader import Section

DURATION = "a positive duration like 30s, 500ms or 5m"
SUBDIRECTORY = "diagnostics"  # under logging.dir unless diagnostics.directory says otherwise


@dataclass(frozen=True, slots=True)
class DiagnosticsConfig:
    enabled: bool = True
    # The snapshot holds up the restart, so it is bounded; what is not read by then is noted.
    timeout: float = field(default=5.0, metadata={"duration": True})
    output_lines: int = 100  # the child's last lines of output kept in the snapshot
    keep: int = 20  # snapshot files kept, newest first
    max_age_days: int = 30
    # None: look for py-spy on PATH and beside the running Python (the `diagnostics` extra).
    py_spy: str | None = None
    # None only when built by hand; the parser fills in <logging.dir>/diagnostics.
    directory: Path | None = None


def _program(base_dir: Path) -> Callable[[object], str]:
    """A path resolves against the config's folder; a bare name is looked up on PATH later."""

    def program(value: object) -> str:
        text = convert.nonempty_text(value).strip()
        return str(convert.path(base_dir)(text)) if "/" in text else text

    return program


def parse_diagnostics(section: Section, log_dir: Path, base_dir: Path) -> DiagnosticsConfig:
    directory = section.take(
        "directory", None, convert.optional(convert.path(base_dir)), "a directory path"
    )
    return DiagnosticsConfig(
        enabled=section.take("enabled", True, convert.flag, "true or false"),
        timeout=section.take("timeout", 5.0, convert.positive_duration, DURATION),
        output_lines=section.take(
            "output_lines", 100, convert.whole(0), "a whole number of at least 0"
        ),
        keep=section.take("keep", 20, convert.whole(1), "a whole number of at least 1"),
        max_age_days=section.take(
            "max_age_days", 30, convert.whole(1), "a whole number of days, at least 1"
        ),
        py_spy=section.take(
            "py_spy",
            None,
            convert.optional(_program(base_dir)),
            "the path of the py-spy program, or null to look for it",
        ),
        directory=directory or log_dir / SUBDIRECTORY,
    )
