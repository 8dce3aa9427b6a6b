"""The diagnostics section: defaults, paths, and errors that name the key, value and want."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from watchdog.config import effective
from watchdog.config.diagnostics import DiagnosticsConfig, parse_diagnostics
from watchdog.config.reader import ConfigError, Section

BASE = Path("/srv/api")
LOGS = BASE / "logs"


def parsed(raw: Any) -> DiagnosticsConfig:
    """The section read the way config.parse reads every top-level one, finish included."""
    problems: list[str] = []
    section = Section(raw, "diagnostics", problems)
    config = parse_diagnostics(section, LOGS, BASE)
    section.finish()
    if problems:
        raise ConfigError(problems)
    return config


def problems_of(raw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parsed(raw)
    return list(info.value.problems)


def test_defaults_write_under_the_log_directory() -> None:
    """An absent section is on, bounded to 5 s, and writes to <logging.dir>/diagnostics."""
    assert parsed(None) == DiagnosticsConfig(
        enabled=True,
        timeout=5.0,
        output_lines=100,
        keep=20,
        max_age_days=30,
        py_spy=None,
        directory=LOGS / "diagnostics",
    )


def test_every_key_is_read() -> None:
    """Each key is taken with its unit; relative paths resolve against the config's folder."""
    config = parsed(
        {
            "enabled": False,
            "timeout": "1500ms",
            "output_lines": 0,
            "keep": 3,
            "max_age_days": 7,
            "py_spy": "tools/py-spy",
            "directory": "snapshots",
        }
    )
    assert config == DiagnosticsConfig(
        enabled=False,
        timeout=1.5,
        output_lines=0,
        keep=3,
        max_age_days=7,
        py_spy="/srv/api/tools/py-spy",
        directory=BASE / "snapshots",
    )


def test_a_bare_program_name_is_left_for_path_lookup() -> None:
    """`py_spy: py-spy` stays a name, looked up on PATH when a snapshot is taken."""
    assert parsed({"py_spy": "py-spy"}).py_spy == "py-spy"
    assert parsed({"py_spy": "/opt/bin/py-spy"}).py_spy == "/opt/bin/py-spy"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            {"timeout": "soon"},
            'diagnostics.timeout: expected a positive duration like 30s, 500ms or 5m, got "soon"',
        ),
        (
            {"timeout": 0},
            "diagnostics.timeout: expected a positive duration like 30s, 500ms or 5m, got 0",
        ),
        ({"enabled": "yes"}, 'diagnostics.enabled: expected true or false, got "yes"'),
        (
            {"output_lines": -1},
            "diagnostics.output_lines: expected a whole number of at least 0, got -1",
        ),
        ({"keep": 0}, "diagnostics.keep: expected a whole number of at least 1, got 0"),
        (
            {"max_age_days": 1.5},
            "diagnostics.max_age_days: expected a whole number of days, at least 1, got 1.5",
        ),
        (
            {"py_spy": ""},
            "diagnostics.py_spy: expected the path of the py-spy program, or null to look for it,"
            ' got ""',
        ),
        ({"directory": 5}, "diagnostics.directory: expected a directory path, got 5"),
        ("on", 'diagnostics: expected a mapping of settings, got "on"'),
    ],
)
def test_bad_values_name_key_value_and_expectation(raw: Any, problem: str) -> None:
    """Each bad value is reported with its key path, the value, and what was expected."""
    assert problems_of(raw) == [problem]


def test_every_problem_is_listed_at_once_with_a_hint_for_typos() -> None:
    """Several problems come together; an unknown key suggests the close known one."""
    problems = problems_of({"keep": "all", "timout": "2s"})
    assert problems == [
        'diagnostics.keep: expected a whole number of at least 1, got "all"',
        "diagnostics.timout: unknown key (did you mean 'timeout'?)",
    ]


def test_check_shows_durations_and_paths_as_written() -> None:
    """`watchdog check` prints the timeout as a duration and the directory as a path."""
    shown = effective(parsed({"timeout": 2}))
    assert shown["timeout"] == "2s"
    assert shown["directory"] == str(LOGS / "diagnostics")


def test_the_section_loads_without_io_libraries() -> None:
    """config.py will import this module: it must keep psutil and asyncio out of the core."""
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'psutil', 'httpx', 'structlog', 'asyncio'}:\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import watchdog.config.diagnostics\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocker], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
