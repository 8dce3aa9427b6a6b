"""Unit tests for the config: units, schema defaults, error messages, file reading and the CLI."""

from __future__ import annotations

import contextlib
import math
import operator
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchdog import __version__
from watchdog.cli import main
from watchdog.config import Config, ConfigError, effective, load, parse
from watchdog.config.file import read_yaml
from watchdog.config.reader import apply_overrides
from watchdog.core.units import (
    format_duration,
    format_size,
    format_span,
    parse_duration,
    parse_size,
)

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "watchdog.yaml"
BASE = Path("/srv/watchdog-tests")  # never touched: parse only resolves paths against it
DURATION = "a positive duration like 30s, 500ms or 5m"
MB = 1024**2


def minimal(**sections: Any) -> dict[str, Any]:
    """A valid document with `sections` laid over it (section name -> its mapping)."""
    return {"app": {"command": ["x"]}, **sections}


def problems_of(raw: object) -> tuple[str, ...]:
    """The problems parse reports for `raw`; fails the test if parse accepts it."""
    with pytest.raises(ConfigError) as caught:
        parse(raw, BASE, python="/opt/python")
    return caught.value.problems


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("45", 45.0),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("2d", 172800.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1.5s", 1.5),
        (" 30s ", 30.0),
        ("30S", 30.0),
    ],
)
def test_parse_duration_accepts(value: object, seconds: float) -> None:
    """parse_duration reads numbers of seconds and unit strings, ignoring case and spaces."""
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    ["abc", "", "-5s", "5x", "s", "1e3s", True, False, None, [], {}, math.inf, -math.inf, math.nan],
)
def test_parse_duration_rejects(value: object) -> None:
    """parse_duration raises ValueError for anything that is not a finite duration."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_parse_duration_rejects_huge_int() -> None:
    """parse_duration answers ValueError, not OverflowError, for an int too large for a float."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(10**400)


@pytest.mark.parametrize(("text", "seconds"), [("9ms", 0.009), ("13ms", 0.013), ("18ms", 0.018)])
def test_parse_duration_is_correctly_rounded(text: str, seconds: float) -> None:
    """parse_duration gives the float nearest to the written value, as float() of it would."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (1024, 1024),
        (0, 0),
        ("10MB", 10 * MB),
        ("512KB", 512 * 1024),
        ("1.5GiB", int(1.5 * 1024**3)),
        ("10 mb", 10 * MB),
        ("2k", 2048),
        ("100b", 100),
        ("100", 100),
        ("1TB", 1024**4),
    ],
)
def test_parse_size_accepts(value: object, size: int) -> None:
    """parse_size reads byte counts and binary-unit strings, ignoring case."""
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["ten", "", "5XB", "-1KB", "MB", True, None, math.inf, [1]])
def test_parse_size_rejects(value: object) -> None:
    """parse_size raises ValueError for anything that is not a size."""
    with pytest.raises(ValueError, match="size"):
        parse_size(value)


def test_parse_size_survives_huge_text() -> None:
    """A size too large for a float is read exactly or refused with ValueError, never overflows."""
    with contextlib.suppress(ValueError):
        assert parse_size("9" * 400 + "KB") == int("9" * 400) * 1024


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "500ms"),
        (0.1, "100ms"),
        (300, "5m"),
        (90, "90s"),
        (5400, "90m"),
        (3600, "1h"),
        (86400, "1d"),
        (1.5, "1.5s"),
        (60.0, "1m"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    """format_duration spells a duration the shortest exact way, and it parses back."""
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.4, "0s"), (12, "12s"), (60, "1m"), (3599.4, "59m59s"), (3600, "1h"), (90061, "1d1h1m1s")],
)
def test_format_span_is_for_a_person(seconds: float, text: str) -> None:
    """A countdown or an age reads as 59m59s, not 3599s; it also parses back (to the second)."""
    assert format_span(seconds) == text
    assert parse_duration(text) == round(seconds)


@pytest.mark.parametrize(
    ("size", "text"),
    [(10 * MB, "10MB"), (512 * 1024, "512KB"), (1536, "1536B"), (3 * 1024**3, "3GB"), (7, "7B")],
)
def test_format_size(size: int, text: str) -> None:
    """format_size spells a size in the largest exact binary unit, and it parses back."""
    assert format_size(size) == text
    assert parse_size(text) == size


@pytest.mark.parametrize("seconds", [1234567.0, 1e-05, 1234.5678, 100000.5])
def test_format_duration_parses_back_exactly(seconds: float) -> None:
    """Whatever format_duration writes, parse_duration reads back as the same number."""
    assert parse_duration(format_duration(seconds)) == seconds


# --- parse: defaults and conversions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("app.name", "api"),
        ("app.command", ("x",)),
        ("app.cwd", BASE),
        ("app.env", {}),
        ("app.shell", False),
        ("app.stop_signal", signal.SIGTERM),
        ("app.stop_timeout", 10.0),
        ("health.url", "http://127.0.0.1:8000/health"),
        ("health.interval", 60.0),
        ("health.timeout", 5.0),
        ("health.max_failures", 3),
        ("health.startup_timeout", 60.0),
        ("health.startup_interval", 0.1),
        ("health.expect_status", (200,)),
        ("restart.min_interval", 300.0),
        ("restart.backoff_initial", 1.0),
        ("restart.backoff_max", 60.0),
        ("restart.backoff_reset", 60.0),
        ("restart.crash_loop.max_crashes", 5),
        ("restart.crash_loop.window", 600.0),
        ("restart.crash_loop.action", "exit"),
        ("logging.dir", BASE / "logs"),
        ("logging.level", "info"),
        ("logging.max_bytes", 10 * MB),
        ("logging.backup_count", 5),
    ],
)
def test_minimal_config_gets_documented_defaults(attribute: str, expected: object) -> None:
    """A config with only app.command gets every documented default."""
    config = parse({"app": {"command": ["x"]}}, BASE)
    assert operator.attrgetter(attribute)(config) == expected


def test_empty_sections_mean_defaults() -> None:
    """A section written but left empty (null) is the same as leaving it out."""
    raw = {"app": {"command": ["x"]}, "health": None, "restart": {"crash_loop": None}}
    assert parse(raw, BASE) == parse(minimal(), BASE)


def test_relative_paths_resolve_against_base_dir(tmp_path: Path) -> None:
    """Relative app.cwd and logging.dir resolve against base_dir; absolute ones stay."""
    config = parse(
        minimal(app={"command": ["x"], "cwd": "sub/.."}, logging={"dir": "../l"}), tmp_path
    )
    assert config.app.cwd == tmp_path.resolve()
    assert config.logging.dir == tmp_path.resolve().parent / "l"
    absolute = parse(minimal(app={"command": ["x"], "cwd": "/opt"}), tmp_path)
    assert absolute.app.cwd == Path("/opt")


@pytest.mark.parametrize(
    ("command", "shell", "words"),
    [
        (["{python}", "-m", "app"], False, ("/opt/py", "-m", "app")),
        (["x", "--exe={python}"], False, ("x", "--exe=/opt/py")),
        (["uvicorn", "--port", 8000, 1.5], False, ("uvicorn", "--port", "8000", "1.5")),
        ("uvicorn app:app --port '8 000'", False, ("uvicorn", "app:app", "--port", "8 000")),
        ("{python} -m app", False, ("/opt/py", "-m", "app")),
        ("echo hi && exec sleep 1", True, ("/bin/sh", "-c", "echo hi && exec sleep 1")),
        ("exec {python} -m app", True, ("/bin/sh", "-c", "exec /opt/py -m app")),
    ],
)
def test_command_forms(command: object, shell: bool, words: tuple[str, ...]) -> None:
    """Lists are stringified, strings shlex-split, shell wraps in sh -c, {python} is filled."""
    config = parse(minimal(app={"command": command, "shell": shell}), BASE, python="/opt/py")
    assert config.app.command == words
    assert config.app.shell is shell


def test_env_values_become_strings() -> None:
    """Numeric env values become strings, and the env mapping is read-only."""
    config = parse(minimal(app={"command": ["x"], "env": {"PORT": 8000, "R": 1.5, "S": "s"}}), BASE)
    assert dict(config.app.env) == {"PORT": "8000", "R": "1.5", "S": "s"}
    with pytest.raises(TypeError):
        config.app.env["PORT"] = "1"  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("TERM", signal.SIGTERM), ("int", signal.SIGINT), ("SIGHUP", signal.SIGHUP)],
)
def test_stop_signal_names(name: str, expected: signal.Signals) -> None:
    """stop_signal takes a signal name with or without SIG, in any case."""
    config = parse(minimal(app={"command": ["x"], "stop_signal": name}), BASE)
    assert config.app.stop_signal is expected


def test_spelled_values_are_converted() -> None:
    """Durations, sizes and a single status code are converted from their written form."""
    raw = minimal(
        health={"interval": "1h30m", "timeout": "1.5s", "expect_status": 204},
        restart={"crash_loop": {"window": "1h", "action": "keep_trying"}},
        logging={"max_bytes": "512KB", "backup_count": 0, "level": "debug"},
    )
    config = parse(raw, BASE)
    assert (config.health.interval, config.health.timeout) == (5400.0, 1.5)
    assert config.health.expect_status == (204,)
    assert (config.restart.crash_loop.window, config.restart.crash_loop.action) == (
        3600.0,
        "keep_trying",
    )
    assert (config.logging.max_bytes, config.logging.backup_count) == (512 * 1024, 0)


@pytest.mark.parametrize(("written", "percent"), [(85, 85.0), ("85%", 85.0), (" 92.5 % ", 92.5)])
def test_percentages_may_carry_a_percent_sign(written: object, percent: float) -> None:
    """`warning: 85` and `warning: "85%"` mean the same."""
    config = parse(minimal(resources={"memory": {"warning": written, "critical": 99}}), BASE)
    assert config.resources.memory.warning == percent


@pytest.mark.parametrize("written", ["85", "0%", "101%", "%", "nan%", "eighty%", True])
def test_bad_percentages_are_named(written: object) -> None:
    """A percentage out of range, or text without its sign, names the key and the rule."""
    with pytest.raises(ConfigError, match=r"resources\.cpu\.warning: expected a percentage"):
        parse(minimal(resources={"cpu": {"warning": written}}), BASE)


# --- parse: problems ----------------------------------------------------------------------------


def _health(**values: object) -> dict[str, Any]:
    return minimal(health=values)


BAD_INPUTS = [
    pytest.param(
        minimal(resources={"trend": {"window": "1h", "min_span": "2h"}}),
        "resources.trend.min_span: expected at most resources.trend.window (1h), got 2h",
        id="trend-span-beyond-window",
    ),
    pytest.param(
        minimal(resources={"interval": "1m", "trend": {"window": "20m", "min_span": "10m"}}),
        "resources.trend.min_samples: expected at most 21, the samples resources.interval (1m)"
        " gives in resources.trend.window (20m), got 30",
        id="trend-samples-beyond-window",
    ),
    pytest.param(
        minimal(resources={"interval": "10ms", "trend": {"min_samples": 5000}}),
        "resources.trend.min_samples: expected at most 4096, the RSS points kept per trend"
        " window, got 5000",
        id="trend-samples-beyond-kept-points",
    ),
    pytest.param(
        minimal(bogus=1),
        "bogus: unknown key (known keys: alerts, app, diagnostics, health, logging, metrics,"
        " remedies, resources, restart, state)",
        id="top",
    ),
    pytest.param(
        _health(intervall="30s"),
        "health.intervall: unknown key (did you mean 'interval'?)",
        id="typo",
    ),
    pytest.param(
        minimal(restart={"crash_loop": {"windw": 1}}),
        "restart.crash_loop.windw: unknown key (did you mean 'window'?)",
        id="deep-typo",
    ),
    pytest.param(
        _health(interval="abc"),
        'health.interval: expected a positive duration like 30s, 500ms or 5m, got "abc"',
        id="interval-abc",
    ),
    pytest.param(_health(interval=0), f"health.interval: expected {DURATION}, got 0", id="zero"),
    pytest.param(
        _health(interval="0s"), f'health.interval: expected {DURATION}, got "0s"', id="zero-s"
    ),
    pytest.param(_health(interval=-5), f"health.interval: expected {DURATION}, got -5", id="neg"),
    pytest.param(
        _health(interval="-5s"), f'health.interval: expected {DURATION}, got "-5s"', id="neg-s"
    ),
    pytest.param(
        minimal(app={"command": ["x"], "stop_timeout": True}),
        f"app.stop_timeout: expected {DURATION}, got true",
        id="bool-duration",
    ),
    pytest.param(
        _health(timeout="60s"),
        "health.timeout: expected less than health.interval (1m), so probes never overlap, got 1m",
        id="timeout-eq-interval",
    ),
    pytest.param(
        _health(interval="10s", timeout="30s"),
        "health.timeout: expected less than health.interval (10s), so probes never overlap,"
        " got 30s",
        id="timeout-gt-interval",
    ),
    pytest.param(
        _health(url="ftp://x"), 'health.url: expected an http:// or https:// URL, got "ftp://x"'
    ),
    pytest.param(
        _health(url="not a url"),
        'health.url: expected an http:// or https:// URL, got "not a url"',
    ),
    pytest.param(
        _health(url="http://"), 'health.url: expected an http:// or https:// URL, got "http://"'
    ),
    *(
        pytest.param(
            _health(max_failures=value),
            f"health.max_failures: expected a whole number of at least 1, got {shown}",
            id=f"max_failures={shown}",
        )
        for value, shown in [(0, "0"), (-1, "-1"), (1.5, "1.5"), (True, "true"), ("3", '"3"')]
    ),
    *(
        pytest.param(
            _health(expect_status=value),
            f"health.expect_status: expected a list of HTTP status codes (100-599), got {shown}",
            id=f"expect_status={shown}",
        )
        for value, shown in [([99], "[99]"), ([], "[]"), (["200"], '["200"]'), ([600], "[600]")]
    ),
    pytest.param(
        minimal(restart={"crash_loop": {"action": "die"}}),
        'restart.crash_loop.action: expected exit or keep_trying, got "die"',
        id="action",
    ),
    pytest.param(
        minimal(restart={"crash_loop": {"max_crashes": 0}}),
        "restart.crash_loop.max_crashes: expected a whole number of at least 1, got 0",
        id="max_crashes",
    ),
    pytest.param(
        {"app": {"name": "api"}},
        "app.command: required, the command that starts the API, e.g. [uvicorn, app.main:app]",
        id="no-command",
    ),
    pytest.param(
        {},
        "app.command: required, the command that starts the API, e.g. [uvicorn, app.main:app]",
        id="no-app",
    ),
    pytest.param(
        {"app": {"command": []}},
        "app.command: expected a list of arguments or a command line string, got []",
        id="empty-command",
    ),
    pytest.param(
        {"app": {"command": "  "}},
        'app.command: expected a list of arguments or a command line string, got "  "',
        id="blank-command",
    ),
    pytest.param(
        {"app": {"command": ["x", {}]}},
        'app.command: expected a list of arguments or a command line string, got ["x", {}]',
        id="mixed-command",
    ),
    pytest.param(
        {"app": {"command": "'unclosed"}},
        'app.command: expected a list of arguments or a command line string, got "\'unclosed"',
        id="unclosed-quote",
    ),
    pytest.param(
        {"app": {"command": ["x"], "shell": True}},
        'app.command: expected a command line string (shell: true), got ["x"]',
        id="shell-list",
    ),
    pytest.param(
        {"app": {"command": "x", "shell": "yes"}},
        'app.shell: expected true or false, got "yes"',
        id="shell-text",
    ),
    pytest.param(
        minimal(app={"command": ["x"], "env": {"A": {"b": 1}}}),
        "app.env.A: expected a string or number value, got a mapping of 1 item"
        " (not shown: a secret)",
        id="env-nested",
    ),
    pytest.param(
        minimal(app={"command": ["x"], "env": {"DEBUG": True}}),
        "app.env.DEBUG: expected a string or number value (quote true, yes or on to pass it"
        " as text), got a bool (not shown: a secret)",
        id="env-bool",
    ),
    pytest.param(
        minimal(app={"command": ["x"], "env": {"A=B": "c"}}),
        "app.env: expected variable names without '=' or NUL, got \"A=B\"",
        id="env-equals",
    ),
    pytest.param(
        minimal(app={"command": ["x"], "stop_signal": "NOPE"}),
        'app.stop_signal: expected a signal name like TERM, got "NOPE"',
        id="signal",
    ),
    pytest.param(
        minimal(app={"command": ["x"], "name": "a/b"}),
        "app.name: expected a name of letters, digits, '_', '.', '-', got \"a/b\"",
        id="name-slash",
    ),
    pytest.param(
        minimal(app={"command": ["x"], "name": ".hidden"}),
        "app.name: expected a name of letters, digits, '_', '.', '-', got \".hidden\"",
        id="name-dot",
    ),
    pytest.param(
        minimal(health=[1, 2]), "health: expected a mapping of settings, got [1, 2]", id="list"
    ),
    pytest.param(
        minimal(restart={"crash_loop": "often"}),
        'restart.crash_loop: expected a mapping of settings, got "often"',
        id="nested-scalar",
    ),
    pytest.param([1, 2], "expected a mapping of sections at the top level, got [1, 2]", id="doc"),
    pytest.param(None, "expected a mapping of sections at the top level, got null", id="null"),
    pytest.param(
        minimal(restart={"backoff_initial": "2m", "backoff_max": "1m"}),
        "restart.backoff_initial: expected at most restart.backoff_max (1m), got 2m",
        id="backoff",
    ),
    pytest.param(
        minimal(logging={"max_bytes": 0}), "logging.max_bytes: expected a size like 10MB, got 0"
    ),
    pytest.param(
        minimal(logging={"max_bytes": "lots"}),
        'logging.max_bytes: expected a size like 10MB, got "lots"',
    ),
    pytest.param(
        minimal(logging={"level": "loud"}),
        'logging.level: expected debug or info or warning or error, got "loud"',
    ),
    pytest.param(
        minimal(logging={"backup_count": -1}),
        "logging.backup_count: expected a whole number of at least 0, got -1",
    ),
    pytest.param(
        minimal(health={"url": "x" * 100}),
        f'health.url: expected an http:// or https:// URL, got "{"x" * 56}...',
        id="long-value-shortened",
    ),
]


@pytest.mark.parametrize(("raw", "message"), BAD_INPUTS)
def test_bad_input_is_named(raw: object, message: str) -> None:
    """Each bad input yields a problem naming the key path, the bad value and what was expected."""
    problems = problems_of(raw)
    assert any(problem.startswith(message) for problem in problems), problems


def test_every_problem_is_reported_together() -> None:
    """One ConfigError lists every problem in the document, not just the first."""
    raw = {
        "app": {"name": "a/b"},
        "health": {"interval": "abc", "url": "ftp://x", "max_failures": 0, "colour": 1},
        "restart": {"crash_loop": {"action": "die"}},
        "logging": [],
        "extra": {},
    }
    problems = problems_of(raw)
    expected_starts = [
        "app.name: expected",
        "app.command: required",
        "health.interval: expected",
        "health.url: expected",
        "health.max_failures: expected",
        "health.colour: unknown key",
        "restart.crash_loop.action: expected",
        "logging: expected a mapping",
        "extra: unknown key",
    ]
    assert sorted(p.split(" ", 2)[0] for p in problems) == sorted(
        s.split(" ", 2)[0] for s in expected_starts
    )
    for start in expected_starts:
        assert any(p.startswith(start) for p in problems), (start, problems)
    with pytest.raises(ConfigError) as caught:
        parse(raw, BASE)
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_cross_checks_skip_values_already_reported() -> None:
    """timeout < interval is not checked when interval itself is bad, so one mistake is one line."""
    assert problems_of(_health(interval="abc", timeout="5s")) == (
        f'health.interval: expected {DURATION}, got "abc"',
    )


def test_huge_duration_is_a_config_error() -> None:
    """A whole number too large for a float is reported as a bad duration."""
    assert problems_of(_health(interval=10**400))[0].startswith("health.interval: expected")


def test_huge_size_is_accepted_or_named() -> None:
    """A size too large for a float gives a Config or a ConfigError, never an OverflowError."""
    check_outcome(lambda: parse(minimal(logging={"max_bytes": "9" * 400}), BASE))


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/health", "http://host:port/health"])
def test_url_with_impossible_port_is_rejected(url: str) -> None:
    """health.url with a port that is not 0-65535 is a config error, not a runtime probe failure."""
    assert problems_of(_health(url=url)) == (
        f'health.url: expected an http:// or https:// URL, got "{url}"',
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            minimal(app={"command": ["x"], "cwd": "a\0b"}),
            'app.cwd: expected a directory path, got "a\\u0000b"',
            id="cwd",
        ),
        pytest.param(
            minimal(logging={"dir": "logs\0"}),
            'logging.dir: expected a directory path, got "logs\\u0000"',
            id="logging-dir",
        ),
        pytest.param(
            {"app": {"command": ["x", "a\0b"]}},
            "app.command: expected a list of arguments or a command line string",
            id="command",
        ),
        pytest.param(
            minimal(app={"command": ["x"], "env": {"A": "b\0"}}),
            "app.env.A: expected text without NUL or a lone surrogate, got a str of 2 characters"
            " (not shown: a secret)",
            id="env",
        ),
    ],
)
def test_nul_bytes_are_config_errors(raw: dict[str, Any], message: str) -> None:
    """A NUL byte, which no path, argument or environment value can hold, is a config error."""
    problems = problems_of(raw)
    assert any(p.startswith(message) for p in problems), problems


# --- reading files ------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is one problem naming the path."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == (f"{path}: no such file",)


def test_directory(tmp_path: Path) -> None:
    """A directory instead of a file is one problem naming the path."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert caught.value.problems == (f"{tmp_path}: is a directory, expected a YAML file",)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n  # and another\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    """A file without a document says it is empty and what it needs."""
    path = write(tmp_path / "cfg.yaml", text)
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    assert caught.value.problems == (f"{path}: is empty, expected at least app.command",)


def test_invalid_utf8(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are one problem naming the path."""
    path = tmp_path / "cfg.yaml"
    path.write_bytes(b"app:\n  command: [\xff\xfe]\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == (f"{path}: is not UTF-8 text",)


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (
            "app:\n  command: [x]\n\tname: y\n",
            "3:1",
            "YAML syntax error: found character '\\t' that cannot start any token",
        ),
        (
            "app:\n  command: [x]\n  command: [y]\n",
            "3:3",
            'YAML syntax error: duplicate key "command"',
        ),
        ("app: {command: [x]}\napp: {}\n", "2:1", 'YAML syntax error: duplicate key "app"'),
        ("? [a, b]\n: 1\n", "1:3", "YAML syntax error: a key must be a plain value"),
        pytest.param(
            "a: 1\n---\nb: 2\n",
            "2:1",
            "YAML syntax error: expected a single document",
            id="two-documents",
        ),
    ],
)
def test_yaml_errors_name_line_and_column(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    """YAML errors read 'path:line:column: problem', with 1-based line and column."""
    path = write(tmp_path / "cfg.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{path}:{where}: {problem}")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: 2020-13-45\n", id="impossible-date"),
        pytest.param("a: !!int abc\n", id="int-tag"),
        pytest.param("a: !!float abc\n", id="float-tag"),
        pytest.param("a: !!bool maybe\n", id="bool-tag"),
        pytest.param("a: !!timestamp abc\n", id="timestamp-tag"),
        pytest.param("? !!set {a}\n: 1\n", id="set-key"),
        pytest.param("a: " + "9" * 5000 + "\n", id="int-over-4300-digits"),
    ],
)
def test_yaml_constructor_failures_are_config_errors(tmp_path: Path, text: str) -> None:
    """Values YAML scans but cannot build are a ConfigError naming the file, not a traceback."""
    path = write(tmp_path / "cfg.yaml", text)
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    assert caught.value.problems[0].startswith(f"{path}:")


def test_bad_value_with_date_keys_is_shown(tmp_path: Path) -> None:
    """A bad value that is a mapping with a date key is still reported, not a TypeError."""
    path = write(tmp_path / "cfg.yaml", "app:\n  command: {2020-01-01: x}\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems[0].startswith("app.command: expected")


def test_load_resolves_relative_paths_against_the_file(tmp_path: Path) -> None:
    """load() resolves app.cwd and logging.dir against the config file's folder."""
    folder = tmp_path / "conf"
    folder.mkdir()
    path = write(folder / "cfg.yaml", "app:\n  command: [x]\n  cwd: .\nlogging:\n  dir: ../l\n")
    config = load(path)
    assert config.app.cwd == folder.resolve()
    assert config.logging.dir == tmp_path.resolve() / "l"


HEALTH_FILE = """\
app: {command: [x]}
health:
  url: http://127.0.0.1:8000/health
  interval: 60s
  max_failures: 3
"""


@pytest.mark.parametrize(
    ("overrides", "url", "interval", "max_failures"),
    [
        (
            {"url": "http://h:9/hz", "interval": "30s", "max_failures": 7},
            "http://h:9/hz",
            30.0,
            7,
        ),
        (
            {"url": None, "interval": "2m", "max_failures": None},
            "http://127.0.0.1:8000/health",
            120.0,
            3,
        ),
        (
            {"url": None, "interval": None, "max_failures": None},
            "http://127.0.0.1:8000/health",
            60.0,
            3,
        ),
        ({}, "http://127.0.0.1:8000/health", 60.0, 3),
    ],
)
def test_overrides_replace_file_values(
    tmp_path: Path, overrides: dict[str, object], url: str, interval: float, max_failures: int
) -> None:
    """Command-line overrides replace the file's health values; None means not given."""
    config = load(write(tmp_path / "cfg.yaml", HEALTH_FILE), {"health": overrides})
    assert (config.health.url, config.health.interval) == (url, interval)
    assert config.health.max_failures == max_failures


def test_overrides_fill_a_missing_section(tmp_path: Path) -> None:
    """An override applies even when the file has no section for it."""
    path = write(tmp_path / "cfg.yaml", "app: {command: [x]}\n")
    assert load(path, {"health": {"interval": "90s"}}).health.interval == 90.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"interval": "soon"}, f'health.interval: expected {DURATION}, got "soon"'),
        ({"max_failures": 0}, "health.max_failures: expected a whole number of at least 1, got 0"),
        ({"url": "localhost:8000"}, "health.url: expected an http:// or https:// URL"),
    ],
)
def test_bad_override_is_named_by_key_path(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    """A bad override value is reported under its key path like a bad file value."""
    path = write(tmp_path / "cfg.yaml", HEALTH_FILE)
    with pytest.raises(ConfigError) as caught:
        load(path, {"health": overrides})
    assert any(p.startswith(message) for p in caught.value.problems), caught.value.problems


def test_apply_overrides_copies_and_leaves_odd_sections_for_parse() -> None:
    """apply_overrides never mutates its input, and leaves a non-mapping section as written."""
    document = {"health": {"interval": "60s"}}
    merged = apply_overrides(document, {"health": {"interval": "5s"}})
    assert merged == {"health": {"interval": "5s"}}
    assert document == {"health": {"interval": "60s"}}
    odd = {"app": {"command": ["x"]}, "health": [1]}
    assert apply_overrides(odd, {"health": {"interval": "5s"}}) == odd
    assert apply_overrides([1], {"health": {"interval": "5s"}}) == [1]


# --- the shipped config and round trips ---------------------------------------------------------


def test_shipped_config_loads() -> None:
    """config/watchdog.yaml is valid and supervises the bundled demo with the running Python."""
    config = load(SHIPPED)
    assert config.app.name == "demo_api"
    assert config.app.command[:3] == (sys.executable, "-m", "watchdog.demo")
    assert config.health.url == "http://127.0.0.1:8765/health"
    assert config.logging.dir == SHIPPED.resolve().parents[1] / "logs"


def test_shipped_config_shows_every_key() -> None:
    """The shipped file spells out every setting the schema has, as its header promises."""

    def keys(value: object, prefix: str = "") -> set[str]:
        if not isinstance(value, dict):
            return set()
        found = set()
        for key, item in value.items():
            found |= {f"{prefix}{key}"} | keys(item, f"{prefix}{key}.")
        return found

    written = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    assert keys(written) == keys(effective(load(SHIPPED)))


def _round_trip(config: Config) -> Config:
    """The config parsed back from what `check` prints, app.env's values put back.

    They are printed as <redacted>: app.env is where passwords go.
    """
    shown = effective(config)
    assert set(shown["app"]["env"].values()) <= {"<redacted>"}
    shown["app"]["env"] = dict(config.app.env)
    dumped = yaml.safe_dump(shown, sort_keys=False)
    return parse(yaml.safe_load(dumped), base_dir=Path("/elsewhere"), python="/not/used")


def test_shipped_config_round_trips_through_effective() -> None:
    """effective(config) dumped as YAML and parsed again gives an equal Config."""
    config = load(SHIPPED)
    assert _round_trip(config) == config


@pytest.mark.parametrize(
    "sections",
    [
        pytest.param(
            {
                "app": {
                    "command": "{python} -m app --port '8 000'",
                    "env": {"A": 1, "B": "two"},
                    "stop_signal": "int",
                    "stop_timeout": "1.5s",
                    "name": "my.api-2",
                },
                "health": {"interval": "1h30m", "timeout": "250ms", "expect_status": [200, 204]},
                "restart": {"min_interval": 45, "crash_loop": {"action": "keep_trying"}},
                "logging": {"max_bytes": 1536, "level": "debug", "backup_count": 0},
            },
            id="everything-changed",
        ),
        pytest.param(
            {"app": {"command": "exec {python} -m app", "shell": True}},
            id="shell",
        ),
        pytest.param(
            {"app": {"command": ["x"]}, "health": {"startup_interval": "9ms"}},
            id="9ms",
        ),
        pytest.param(
            {"app": {"command": ["x"]}, "health": {"interval": 1234567, "timeout": 1e-05}},
            id="exponent",
        ),
    ],
)
def test_configs_round_trip_through_effective(sections: dict[str, Any]) -> None:
    """A config with non-default values survives effective -> YAML -> parse unchanged."""
    config = parse(sections, BASE, python="/opt/py")
    assert _round_trip(config) == config


# --- fuzzing ------------------------------------------------------------------------------------

SCHEMA: dict[str, list[str]] = {
    "app": ["name", "command", "cwd", "env", "shell", "stop_signal", "stop_timeout"],
    "health": [
        "url",
        "interval",
        "timeout",
        "max_failures",
        "startup_timeout",
        "startup_interval",
        "expect_status",
    ],
    "restart": ["min_interval", "backoff_initial", "backoff_max", "backoff_reset", "crash_loop"],
    "crash_loop": ["max_crashes", "window", "action"],
    "logging": ["dir", "level", "max_bytes", "backup_count"],
}
PLAUSIBLE = st.sampled_from(
    [
        "30s",
        "500ms",
        "5m",
        "1h30m",
        "0s",
        "-5s",
        "10MB",
        "1.5GiB",
        "http://127.0.0.1:8000/health",
        "https://x/",
        "ftp://x",
        "TERM",
        "NOPE",
        "exit",
        "keep_trying",
        "info",
        "{python}",
        ".",
        "",
        " ",
        "'",
        "a=b",
        0,
        1,
        -1,
        3,
        200,
        599,
        600,
        0.5,
        math.inf,
        math.nan,
        True,
        None,
    ]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | PLAUSIBLE
# What a schema key gets: mostly a scalar, sometimes a flat list or mapping of them.
VALUES = (
    PLAUSIBLE
    | SCALARS
    | st.lists(SCALARS, max_size=3)
    | st.dictionaries(st.text(max_size=5), SCALARS, max_size=2)
)
# Anything YAML can hold, nested: for whole documents and whole sections.
YAML_LIKE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _section(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping keyed by the section's real keys (each optional), plus a possible unknown key."""
    values: dict[str, st.SearchStrategy[Any]] = dict.fromkeys([*SCHEMA[name], "extra"], VALUES)
    if name == "app":
        values["command"] = (
            st.lists(st.text(min_size=1, max_size=5) | PLAUSIBLE, max_size=3) | VALUES
        )
    if name == "restart":
        values["crash_loop"] = _section("crash_loop") | VALUES
    return st.fixed_dictionaries({}, optional=values)


KEY_PATHS = [
    (*(("restart", "crash_loop") if section == "crash_loop" else (section,)), key)
    for section, keys in SCHEMA.items()
    for key in keys
]


def _valid_with(changes: dict[tuple[str, ...], object]) -> dict[str, Any]:
    """A valid document with a few values, deep or shallow, replaced."""
    document: dict[str, Any] = {"app": {"command": ["x"]}}
    for path, value in changes.items():
        mapping = document
        for name in path[:-1]:
            if not isinstance(mapping.get(name), dict):
                mapping[name] = {}
            mapping = mapping[name]
        mapping[path[-1]] = value
    return document


DOCUMENTS = st.one_of(
    st.dictionaries(st.sampled_from(KEY_PATHS), VALUES, max_size=2).map(_valid_with),
    st.fixed_dictionaries(
        {}, optional={name: _section(name) | VALUES for name in SCHEMA if name != "crash_loop"}
    ),
    YAML_LIKE,
)


def check_outcome(read: Callable[[], Config]) -> None:
    """`read` returns a Config, or raises ConfigError with at least one non-empty message."""
    try:
        outcome: Config | ConfigError = read()
    except ConfigError as exc:
        outcome = exc
    if isinstance(outcome, ConfigError):
        assert outcome.problems
        assert all(isinstance(p, str) and p for p in outcome.problems)
    else:
        assert isinstance(outcome, Config)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_parse_never_crashes(raw: object) -> None:
    """parse returns a Config or raises ConfigError with messages, whatever the data."""
    check_outcome(lambda: parse(raw, BASE, python="/opt/py"))


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "cfg.yaml"


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text() | DOCUMENTS.map(lambda doc: yaml.safe_dump(doc, allow_unicode=True)))
def test_load_never_crashes(fuzz_file: Path, text: str) -> None:
    """load returns a Config or raises ConfigError, whatever text the file holds."""
    fuzz_file.write_text(text, encoding="utf-8")
    check_outcome(lambda: load(fuzz_file))


# --- command line -------------------------------------------------------------------------------

VALID_FILE = """\
app:
  command: ["{python}", -c, "pass"]
health:
  interval: 30s
logging:
  dir: logs
"""


def test_cli_check_prints_effective_yaml(tmp_path: Path) -> None:
    """`check` on a valid file exits 0 and prints the effective config as YAML."""
    path = write(tmp_path / "cfg.yaml", VALID_FILE)
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"# {path}: valid\n")
    assert result.stderr == ""
    printed = yaml.safe_load(result.stdout)
    assert printed == effective(load(path))
    assert printed["health"]["interval"] == "30s"
    assert printed["logging"]["max_bytes"] == "10MB"


def test_cli_check_applies_flags(tmp_path: Path) -> None:
    """`check` lays --url, --interval and --max-failures over the file."""
    path = write(tmp_path / "cfg.yaml", VALID_FILE)
    args = ["check", "-c", str(path), "--url", "http://h:1/", "--interval", "10s"]
    result = CliRunner().invoke(main, [*args, "--max-failures", "9"])
    assert result.exit_code == 0, result.output
    health = yaml.safe_load(result.stdout)["health"]
    assert (health["url"], health["interval"], health["max_failures"]) == ("http://h:1/", "10s", 9)


@pytest.mark.parametrize(
    ("text", "args", "lines"),
    [
        (
            "app:\n  command: [x]\nhealth:\n  interval: abc\n  max_failures: 0\n",
            [],
            [
                f'  health.interval: expected {DURATION}, got "abc"',
                "  health.max_failures: expected a whole number of at least 1, got 0",
            ],
        ),
        (
            VALID_FILE,
            ["--interval", "soon"],
            [f'  --interval (health.interval): expected {DURATION}, got "soon"'],
        ),
        (None, [], ["no such file"]),
    ],
)
def test_cli_check_invalid_exits_2(
    tmp_path: Path, text: str | None, args: list[str], lines: list[str]
) -> None:
    """`check` on an invalid config exits 2 and prints every problem line to stderr."""
    path = tmp_path / "cfg.yaml"
    if text is not None:
        write(path, text)
    result = CliRunner().invoke(main, ["check", "-c", str(path), *args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"watchdog: invalid config {path}:\n")
    for line in lines:
        assert line in result.stderr


def test_cli_version() -> None:
    """--version prints the package version."""
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"watchdog, version {__version__}\n"


@pytest.mark.timeout(15)
@pytest.mark.parametrize(
    ("health", "args", "named"),
    [
        ("interval: abc", [], "health.interval"),
        ("interval: 30s", ["--interval", "never"], "--interval (health.interval)"),
    ],
)
def test_cli_run_invalid_config_starts_nothing(
    tmp_path: Path, health: str, args: list[str], named: str
) -> None:
    """`run` with an invalid config (file or flag) exits 2 before starting the app."""
    marker = tmp_path / "started"
    path = write(
        tmp_path / "cfg.yaml",
        f"app:\n  command: ['{{python}}', -c, \"open(r'{marker}', 'w').close()\"]\n"
        f"health:\n  {health}\nlogging:\n  dir: logs\n",
    )
    result = CliRunner().invoke(main, ["run", "-c", str(path), *args])
    assert result.exit_code == 2, result.output
    assert f"  {named}: expected" in result.stderr
    assert not marker.exists()
    assert not (tmp_path / "logs").exists()


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    """`<<: *anchor` merges a mapping instead of being refused as a repeated key."""
    text = (
        "defaults: &pace {interval: 10s, timeout: 1s}\n"
        "app: {command: [x]}\n"
        "health:\n  <<: *pace\n  max_failures: 4\n"
    )
    path = write(tmp_path / "cfg.yaml", text)
    document = read_yaml(path)
    assert document["health"] == {"interval": "10s", "timeout": "1s", "max_failures": 4}


def test_null_command_is_one_problem() -> None:
    """`command: null` is reported once, as a bad value, not also as missing."""
    assert problems_of({"app": {"command": None}}) == (
        "app.command: expected a list of arguments or a command line string, got null",
    )


def test_cross_check_says_when_the_other_value_is_a_default() -> None:
    """A short interval alone blames the timeout's default, and says it is one."""
    assert problems_of(minimal(health={"interval": "3s"})) == (
        "health.timeout: expected less than health.interval (3s), so probes never overlap,"
        " got 5s (the default)",
    )
