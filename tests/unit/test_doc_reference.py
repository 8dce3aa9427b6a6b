"""The events and metrics references say what the code emits: no more, no less."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from watchdog.config import parse
from watchdog.outputs.metrics import FAMILIES

CHECKOUT = Path(__file__).resolve().parents[2]
EVENTS_DOC = CHECKOUT / "docs" / "reference" / "events.md"
METRICS_DOC = CHECKOUT / "docs" / "reference" / "metrics.md"
# The functions an event name is handed to: the core's, the shell's, the outputs' own reports.
EMITTERS = frozenset(("emit", "_emit", "_emit_remedy", "_report"))
NAME = re.compile(r"`([A-Za-z_]+)`")


def _strings(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):  # "latency_degraded" if degraded else "latency_recovered"
        return _strings(node.body) | _strings(node.orelse)
    return set()


def emitted(source: str) -> set[str]:
    """The event names a module emits: handed to an emitter, kept in a variable `event` on
    their way to one, or written as a log line's `"event"` directly."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in EMITTERS:
                names |= _strings(node.args[0])
        elif isinstance(node, ast.Assign):
            targets = [target.id for target in node.targets if isinstance(target, ast.Name)]
            if "event" in targets:
                names |= _strings(node.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "event":
                    names |= _strings(value)
    # An event is a name: a "1" there is a style (the console's colour for the event).
    return {name for name in names if NAME.fullmatch(f"`{name}`")}


def code_events() -> set[str]:
    found: set[str] = set()
    for module in (CHECKOUT / "watchdog").rglob("*.py"):
        found |= emitted(module.read_text(encoding="utf-8"))
    return found


def first_cells(page: Path) -> list[str]:
    """The first cell of each row of the page's tables, header and rule aside."""
    cells = []
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and not line.startswith(("|---", "| event |", "| family |")):
            cells.append(line.split("|")[1])
    return cells


def documented_events() -> list[str]:
    return [name for cell in first_cells(EVENTS_DOC) for name in NAME.findall(cell)]


def test_every_event_the_code_emits_is_documented_and_only_those() -> None:
    documented = documented_events()
    assert sorted(set(documented)) == sorted(code_events())
    assert len(documented) == len(set(documented)), "an event listed twice"


def test_the_metrics_table_lists_every_family_in_order() -> None:
    documented = [name for cell in first_cells(METRICS_DOC) for name in NAME.findall(cell)]
    assert documented == list(FAMILIES)


def test_every_metric_or_event_named_in_the_docs_exists() -> None:
    """A `watchdog_...` name anywhere in README.md or docs/ (the pages, the alert rules, the
    dashboard) is a family the code writes (or a histogram's series) or an event it emits: a
    renamed metric cannot live on in prose or in a query."""
    series = {f"{name}{end}" for name in FAMILIES for end in ("", "_bucket", "_sum", "_count")}
    known = series | code_events()
    docs = (CHECKOUT / "docs").rglob("*")
    pages = [CHECKOUT / "README.md", *(p for p in docs if p.suffix in (".md", ".yml", ".json"))]
    assert {"prometheus-rules.yml", "grafana-dashboard.json"} <= {page.name for page in pages}
    named = {
        (str(page.relative_to(CHECKOUT)), name)
        for page in pages
        for name in re.findall(r"\b(watchdog_[a-z_]+)\b(?!\*)", page.read_text(encoding="utf-8"))
    }
    assert sorted(pair for pair in named if pair[1] not in known) == []


def test_events_are_found_however_they_are_handed_on() -> None:
    """The extraction itself: a name it missed would pass for one the docs need not list."""
    source = """
self._emit("child_started", pid=1)
shell.emit(
    "listening", fd=3,
)
self._report("alert_sent", kind="restart")
self._emit("latency_degraded" if bad else "latency_recovered", level="warning")
event = "remedy_applied" if worked else "remedy_failed"
self._emit_remedy(event, metric)
line = {"event": "child_output", "line": text}
logger.info("not an event")
emit(line)
"""
    assert emitted(source) == {
        "child_started",
        "listening",
        "alert_sent",
        "latency_degraded",
        "latency_recovered",
        "remedy_applied",
        "remedy_failed",
        "child_output",
    }


def _configs(page: Path) -> Iterator[Any]:
    """Every whole config a page shows in a yaml block (one with an `app.command`), and the
    one a Kubernetes ConfigMap holds."""
    text = page.read_text(encoding="utf-8")
    for block in re.findall(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for document in yaml.safe_load_all(block):
            config = document
            if isinstance(document, dict) and document.get("kind") == "ConfigMap":
                config = yaml.safe_load(document["data"]["watchdog.yaml"])
            if isinstance(config, dict) and "command" in (config.get("app") or {}):
                yield config


def test_every_config_the_docs_show_is_valid(tmp_path: Path) -> None:
    """What a reader copies passes `watchdog check` (all but the host's own files)."""
    pages = [CHECKOUT / "README.md", *(CHECKOUT / "docs").rglob("*.md")]
    shown = [(page.name, config) for page in pages for config in _configs(page)]
    assert {"README.md", "tutorial.md", "containers.md"} <= {name for name, _ in shown}
    for _, config in shown:
        parse(config, tmp_path)  # raises ConfigError, naming each problem
