"""The reference made from the schema: the shipped config/watchdog.yaml and the docs' key table.

    python -m watchdog.config.reference --write   # rewrite both after changing schema.py
    python -m watchdog.config.reference --check   # exit 1 if either is stale (a test does too)
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import yaml

from watchdog.config.kinds import Group, Key, Required, plain
from watchdog.config.schema import CHILDREN, GROUPS, KEYS

CHECKOUT = Path(__file__).resolve().parents[2]
SHIPPED = Path("config/watchdog.yaml")
TABLE = Path("docs/reference/config.md")
BEGIN = "<!-- config-reference: made from watchdog/config/schema.py; edit it there, then run"
BEGIN += " python -m watchdog.config.reference --write -->"
END = "<!-- config-reference: end -->"
WIDTH = 99
TABLE_HEAD = "| key | type | default | unit | meaning | on reload |"

HEADER = """\
# watchdog's embedded default: supervise the bundled demo API.
# Every key is shown with its default, but for the demo's app, health.url and logging.dir;
# docs/reference/config.md has them as a table, with what a reload does to each key.
# Durations: 500ms, 30s, 5m, 1h (or a number of seconds). Sizes: 10MB, 512KB (binary units).
# Made from watchdog/config/schema.py by: python -m watchdog.config.reference --write
"""
# Where the shipped file departs from the defaults, and why: it supervises the demo.
DEMO: dict[str, tuple[object, str]] = {
    "app.name": ("demo_api", "the demo's name"),
    "app.command": (
        ["{python}", "-m", "watchdog.demo", "--port", "8765"],
        "the bundled demo; {python} is the interpreter running the watchdog, so it needs"
        " nothing installed",
    ),
    "health.url": ("http://127.0.0.1:8765/health", "the demo's port"),
    "logging.dir": ("../logs", "relative to this file: the repository's logs/ folder"),
}


def written(value: object) -> str:
    """`value` as a YAML file writes it on one line."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...")


def _comment(text: str, indent: str, hanging: str = "") -> list[str]:
    width = WIDTH - len(indent) - 2
    wrapped = textwrap.wrap(plain(text), width, subsequent_indent=hanging)
    return [f"{indent}# {line}" for line in wrapped]


def _default(key: Key) -> str:
    return "required" if isinstance(key.default, Required) else written(key.default)


def _yaml_key(key: Key, indent: str) -> list[str]:
    lines = _comment(key.doc, indent)
    value = key.default
    if key.path in DEMO:
        value, why = DEMO[key.path]
        given = "" if isinstance(key.default, Required) else f" (default: {_default(key)})"
        lines += _comment(f"Here: {why}{given}.", indent)
    return [*lines, f"{indent}{key.name}: {written(value)}"]


def _yaml_group(group: Group, depth: int) -> list[str]:
    indent = "  " * depth
    lines = _comment(group.doc, indent)
    if group.when is not None:  # null until its keys are written: shown as comments
        keys = f"null (none), or a mapping of these keys, {group.when} required:"
        lines += _comment(keys, indent)
        for key in CHILDREN[group.path]:
            assert isinstance(key, Key)
            item = f"  {key.name} (default {_default(key)}): {key.doc}"
            lines += _comment(item, indent, hanging="    ")
        return [*lines, f"{indent}{group.name}: null"]
    lines.append(f"{indent}{group.name}:")
    for entry in CHILDREN[group.path]:
        if isinstance(entry, Group):
            lines += _yaml_group(entry, depth + 1)
        else:
            lines += _yaml_key(entry, indent + "  ")
    return lines


def shipped_yaml() -> str:
    """config/watchdog.yaml: every key with its doc above it, the demo's values aside."""
    lines = HEADER.splitlines()
    for group in CHILDREN[""]:
        assert isinstance(group, Group)
        lines += ["", *_yaml_group(group, 0)]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(key: Key) -> str:
    default = _default(key)
    shown = default if isinstance(key.default, Required) else f"`{default}`"
    meaning = key.doc + (f" (`{key.flag}` on the command line)" if key.flag else "")
    if GROUPS[key.path.rpartition(".")[0]].when is not None:
        meaning += f"; the whole `{key.path.rpartition('.')[0]}` defaults to `null`"
    cells = (f"`{key.path}`", key.kind.expected, shown, key.kind.unit, meaning, key.reload)
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def key_table() -> str:
    """The tables of keys in docs/reference/config.md, one per section, between its markers."""
    lines = [BEGIN]
    for group in CHILDREN[""]:
        assert isinstance(group, Group)
        lines += ["", f"## {group.name}", "", f"`{group.name}`: {group.doc}.", ""]
        lines += [TABLE_HEAD, "|---|---|---|---|---|---|"]
        lines += [_row(key) for key in KEYS.values() if key.path.split(".")[0] == group.name]
    return "\n".join([*lines, "", END])


def with_table(page: str) -> str:
    """`page` with the text between the markers replaced by the table."""
    head, begin, rest = page.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"{TABLE} lacks the markers {BEGIN!r} ... {END!r}")
    return head + key_table() + tail


def stale(root: Path) -> list[Path]:
    """The generated files under `root` that differ from what the schema makes."""
    wanted = {
        SHIPPED: shipped_yaml(),
        TABLE: with_table((root / TABLE).read_text(encoding="utf-8")),
    }
    return [path for path, text in wanted.items() if (root / path).read_text("utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m watchdog.config.reference")
    parser.add_argument("--root", type=Path, default=CHECKOUT, help="the checkout")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite the stale files")
    action.add_argument("--check", action="store_true", help="exit 1 if any is stale")
    options = parser.parse_args(argv)
    root: Path = options.root
    if not (root / TABLE).is_file() or not (root / SHIPPED).is_file():
        parser.error(f"{root} holds no {TABLE} and {SHIPPED}: give the checkout with --root")
    outdated = stale(root)
    if options.write:
        if SHIPPED in outdated:
            (root / SHIPPED).write_text(shipped_yaml(), encoding="utf-8")
        if TABLE in outdated:
            text = (root / TABLE).read_text(encoding="utf-8")
            (root / TABLE).write_text(with_table(text), encoding="utf-8")
    for path in outdated:
        print(f"{path}: {'rewritten' if options.write else 'stale'}")
    return 1 if outdated and options.check else 0


if __name__ == "__main__":
    sys.exit(main())
