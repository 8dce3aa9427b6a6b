"""A config file read into a YAML document, in bounded time and memory, or a ConfigError."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from watchdog.config.reader import ConfigError, show

# A config is a few kilobytes. The limits keep a hostile or mistaken file (a YAML alias
# "bomb", a log pasted in) from costing minutes and gigabytes, in `check` and on a reload,
# which reads the file while supervising: PyYAML reads 256 KiB in well under a second.
MAX_BYTES = 256 * 1024
MAX_VALUES = 10_000  # keys, values and list items, each alias counted as what it names
MAX_TEXT = MAX_BYTES  # characters of scalar text, each alias counted as what it names
MAX_DEPTH = 50  # mappings and lists within each other; a config needs 4


class _TooLargeError(yaml.MarkedYAMLError):
    """The document, with its aliases expanded, is beyond what any config needs."""


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys and documents that expand beyond bounds.

    PyYAML shares an alias's node rather than copying it, so nine lines of aliases stand
    for 10**9 values; anything that walks them (an error message, a converter) would take
    minutes and gigabytes. Each alias is counted here as the values and text it names.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._values = 0
        self._text = 0
        self._depth = 0
        self._weights: dict[str, tuple[int, int]] = {}  # anchor -> (values, text) it names

    def _spend(self, values: int, text: int, mark: yaml.Mark) -> None:
        self._values += values
        self._text += text
        if self._values > MAX_VALUES:
            beyond = f"more than {MAX_VALUES} values"
        elif self._text > MAX_TEXT:
            beyond = f"more than {MAX_TEXT // 1024} KiB of text"
        else:
            return
        problem = f"the document holds {beyond}, counting each YAML alias as what it names"
        raise _TooLargeError(None, None, problem, mark)

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            # Unknown (or still being composed, when it names itself): counted once.
            self._spend(*self._weights.get(event.anchor, (1, 0)), event.start_mark)
            return super().compose_node(parent, index)
        before = (self._values, self._text)
        scalar = len(event.value) if isinstance(event, yaml.ScalarEvent) else 0
        self._spend(1, scalar, event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            problem = f"the document is nested more than {MAX_DEPTH} deep"
            raise _TooLargeError(None, None, problem, event.start_mark)
        node = super().compose_node(parent, index)
        self._depth -= 1
        if event.anchor is not None:
            self._weights[event.anchor] = (self._values - before[0], self._text - before[1])
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            # PyYAML's constructors raise these for values that scan but cannot be built;
            # their messages quote the value, which may be a secret.
            tag = node.tag.rpartition(":")[2]
            raise yaml.constructor.ConstructorError(
                None, None, f"this value cannot be read as a YAML {tag}", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` merges, it does not repeat a key
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {show(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)  # never all of a huge file, nor of /dev/zero
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, expected a YAML file"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    if len(data) > MAX_BYTES:
        limit = f"{MAX_BYTES // 1024} KiB"
        raise ConfigError([f"{path}: is larger than {limit}, the most a config file may be"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: is not UTF-8 text"]) from None


def read_yaml(path: Path) -> object:
    """The document in `path`; ConfigError with a clear message for every way reading fails."""
    text = _read_text(path)
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _TooLargeError as exc:
        mark = exc.problem_mark
        raise ConfigError([f"{path}:{mark.line + 1}:{mark.column + 1}: {exc.problem}"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem and exc.problem.startswith("but "):
            problem = f"{exc.context}, {exc.problem}"
        raise ConfigError([f"{where}: YAML syntax error: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: YAML error: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{path}: YAML nested too deeply"]) from None
    if document is None:
        raise ConfigError([f"{path}: is empty, expected at least app.command"])
    return document
