"""The schema declares each key once; the records, parse, check and the reference follow it."""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from click.testing import CliRunner

from tests.unit.histories import Run
from watchdog.cli import main
from watchdog.config import CLASSES, effective, parse
from watchdog.config.kinds import Group, Key, Required
from watchdog.config.listen import ListenAddress, ListenSpec
from watchdog.config.operations import WebhookConfig
from watchdog.config.remedies import REMEDIED
from watchdog.config.schema import CHILDREN, GROUPS, KEYS, REFUSED, RESTARTS, default
from watchdog.core.commands import ReadConfig, Reconfigure
from watchdog.core.facts import ConfigRead, Reconfigured, Signalled
from watchdog.core.rules.planned import DailyWindow

BASE = Path("/srv/schema-tests")
# Keys whose default the rules replace with one that depends on another key.
DERIVED = {"app.command", "state.dir", "resources.disk.paths", "diagnostics.directory"}


@pytest.mark.parametrize("path", list(CLASSES))
def test_each_record_has_the_fields_of_its_group(path: str) -> None:
    """A record and its group list the same names: neither can gain a key the other lacks."""
    fields = [item.name for item in dataclasses.fields(CLASSES[path])]
    assert sorted(fields) == sorted(entry.name for entry in CHILDREN[path])


@pytest.mark.parametrize("path", [path for path in CLASSES if path])
def test_no_record_writes_a_default_of_its_own(path: str) -> None:
    """A record's field default, where a hand-built record needs one, is the schema's."""
    for item in dataclasses.fields(CLASSES[path]):
        if item.default is not dataclasses.MISSING:
            assert item.default == default(f"{path}.{item.name}"), item.name


def test_every_group_is_read_into_a_record() -> None:
    assert set(CLASSES) == set(GROUPS)


@pytest.mark.parametrize("key", list(KEYS.values()), ids=list(KEYS))
def test_parse_gives_each_key_its_schema_default(key: Key) -> None:
    """A config with only app.command gets each key's default, read by the key's converter."""
    parsed = parse({"app": {"command": ["x"]}}, BASE)
    record = parsed
    for name in key.path.split(".")[:-1]:
        record = getattr(record, name)
    if record is None:  # a group that is null unless written (alerts.webhook)
        return
    value = getattr(record, key.name)
    if key.path not in DERIVED:
        assert value == default(key.path, BASE)
    assert isinstance(key.default, Required) == (key.path == "app.command")


def test_check_prints_durations_and_sizes_as_written_and_secrets_redacted() -> None:
    """effective() follows each key's unit and secrecy from the schema."""
    parsed = parse(
        {
            "app": {"command": ["x"], "env": {"TOKEN": "t0k"}},
            "alerts": {"webhook": {"url": "https://h.test/x", "headers": {"A": "b"}}},
            "resources": {"memory": {"max_rss": 1536 * 1024**2}},
        },
        BASE,
    )
    shown = effective(parsed)
    assert shown["health"]["interval"] == "1m"
    assert shown["resources"]["memory"]["max_rss"] == "1536MB"
    assert shown["app"]["env"] == {"TOKEN": "<redacted>"}
    hook = {"url": "<redacted>", "timeout": "5s", "headers": {"A": "<redacted>"}}
    assert shown["alerts"]["webhook"] == hook


def test_the_flags_are_the_keys_that_declare_one() -> None:
    """`run` and `check` offer a flag for each key that has one, its help from the key's doc."""
    shown = CliRunner().invoke(main, ["check", "--help"]).output
    flagged = [key for key in KEYS.values() if key.flag]
    assert [key.flag for key in flagged] == ["--url", "--interval", "--timeout", "--max-failures"]
    for key in flagged:
        assert f"Sets {key.path}:" in " ".join(shown.split())


# -- what a reload does: the reference's column against the controller ---------------------

NEW_VALUES: dict[str, object] = {  # keys whose value is null by default, or special
    "app.listen": ListenSpec(host="127.0.0.1", port=9000),
    "app.stop_signal": signal.SIGINT,
    "app.env_file": Path("/etc/api/env"),
    "app.user": "nobody",
    "app.group": "nogroup",
    "app.umask": 0o27,
    "health.method": "HEAD",
    "health.expect_body": "ok",
    "resources.memory.max_rss": 2**30,
    "resources.memory.max_worker_rss": 2**29,
    "resources.memory.worker_signal": signal.SIGINT,
    "state.dir": Path("/srv/state"),
    "alerts.command": ("page-me",),
    "metrics.listen": ListenAddress("127.0.0.1", 9464),
    "metrics.textfile": Path("/srv/metrics.prom"),
    "diagnostics.py_spy": "py-spy",
    "restart.max_uptime": 86400.0,
    "resources.degradation.ratio": 3.0,
    "restart.max_uptime_jitter": 3600.0,
    "restart.window": DailyWindow(3 * 3600.0, 5 * 3600.0),
    **{f"remedies.{metric}.level": "warning" for metric in REMEDIED},
    **{f"remedies.{metric}.signal": "USR1" for metric in REMEDIED},
    **{f"remedies.{metric}.post": "/admin/cleanup" for metric in REMEDIED},
}


def _other(path: str, value: object) -> object:  # noqa: PLR0911 - one return per type
    """A value of the same type that differs from `value`."""
    if path in NEW_VALUES:
        return NEW_VALUES[path]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value * 2 + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, Path):
        return value / "other"
    if isinstance(value, tuple):
        return (*value, *value[:1]) or ("x",)
    assert isinstance(value, Mapping), (path, value)
    return MappingProxyType({**value, "X": "1"})


def _changed(record: Any, path: str, prefix: str = "") -> Any:
    group, _, rest = path.partition(".")
    if not rest:
        changed = _other(prefix + group, getattr(record, group))
        return dataclasses.replace(record, **{group: changed})
    inner = getattr(record, group)
    if inner is None:  # alerts.webhook: null until written
        inner = WebhookConfig("https://hooks.example.test/x", 5.0, MappingProxyType({}))
    return dataclasses.replace(record, **{group: _changed(inner, rest, f"{prefix}{group}.")})


@pytest.mark.parametrize("key", list(KEYS.values()), ids=list(KEYS))
def test_a_reload_does_what_the_reference_says(key: Key) -> None:
    """Refused, a restart of the app, or in force without one: as the key's reload says."""
    run = Run()
    run.start()
    old = run.controller.config
    new = _changed(old, key.path)
    assert new != old
    run.feed(1.0, Signalled("SIGHUP", 1.0))
    assert ReadConfig() in run.commands
    said = run.feed(1.01, ConfigRead(new, (), 1.01))
    if key.reload == REFUSED:
        assert run.events(said) == ["reload_failed"]
        return
    assert said == [Reconfigure(new)]
    said = run.feed(1.02, Reconfigured((), 1.02))
    assert "config_reloaded" in run.events(said)
    restarted = "restart_triggered" in run.events(said)
    assert restarted == key.reload.startswith(RESTARTS), run.events(said)


def test_each_key_sits_in_a_declared_group() -> None:
    """The walk from the document reaches every key; the document holds groups only."""
    for key in KEYS.values():
        assert key.path.rpartition(".")[0] in GROUPS
    assert all(isinstance(entry, Group) for entry in CHILDREN[""])
