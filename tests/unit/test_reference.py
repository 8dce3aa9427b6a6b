"""config/watchdog.yaml and the key table of docs/reference/config.md are made from the schema,
and stay so."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from watchdog.config.reference import CHECKOUT, TABLE, key_table, shipped_yaml, stale, with_table
from watchdog.config.schema import GROUPS, KEYS


def test_the_shipped_config_and_the_key_table_are_made_from_the_schema() -> None:
    """config/watchdog.yaml and the docs' key table are what the schema makes: after changing
    schema.py, run `python -m watchdog.config.reference --write`."""
    assert stale(CHECKOUT) == []


def test_the_check_fails_when_a_generated_file_drifts(tmp_path: Path) -> None:
    """A hand edit of either file is found: the table or a default changed by hand."""
    page = (CHECKOUT / TABLE).read_text(encoding="utf-8")
    (tmp_path / "config").mkdir()
    (tmp_path / TABLE).parent.mkdir(parents=True)
    (tmp_path / "config" / "watchdog.yaml").write_text(shipped_yaml(), encoding="utf-8")
    (tmp_path / TABLE).write_text(with_table(page), encoding="utf-8")
    assert stale(tmp_path) == []
    row = "| `health.interval` | a positive duration like 30s, 500ms or 5m | `60s` |"
    edited = with_table(page).replace(row, row.replace("60s", "30s"))
    (tmp_path / TABLE).write_text(edited, encoding="utf-8")
    (tmp_path / "config" / "watchdog.yaml").write_text(
        shipped_yaml().replace("interval: 60s", "interval: 30s"), encoding="utf-8"
    )
    assert stale(tmp_path) == [Path("config/watchdog.yaml"), TABLE]


def test_the_key_table_has_a_row_per_key_with_its_reload() -> None:
    """Key, type, default, unit, meaning and what a reload does, one row each."""
    rows = [line for line in key_table().splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[0].strip("| `") for row in rows] == list(KEYS)
    for row, key in zip(rows, KEYS.values(), strict=True):
        assert row.endswith(f" | {key.reload} |"), row
        assert row.split(" | ")[1] == key.kind.expected.replace("|", "\\|"), row


def test_the_shipped_file_holds_each_default_but_the_demos() -> None:
    """Every key is written in the shipped file with its schema default, the demo's aside."""
    written = yaml.safe_load(shipped_yaml())
    demo = {"app.name", "app.command", "health.url", "logging.dir"}
    for key in KEYS.values():
        if GROUPS[key.path.rpartition(".")[0]].when is not None:
            continue  # shown as a comment: the group is null
        shown = _at(written, key.path)
        assert (shown == key.default) != (key.path in demo), (key.path, shown)


def _at(document: Mapping[str, Any], path: str) -> Any:
    for name in path.split("."):
        document = document[name]
    return document
