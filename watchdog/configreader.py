"""Reading a YAML config file and its sections, with errors that name the key path."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
_SHOWN_LENGTH = 60


class ConfigError(Exception):
    """Every problem found in a configuration, one message each."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


def show(value: object) -> str:
    """A value as the user wrote it, quoted and shortened for an error message."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 3] + "..."


def hidden(value: object) -> str:
    """A secret's stand-in in an error message: its shape, never its text."""
    return f"a {type(value).__name__} of {len(str(value))} characters (not shown: a secret)"


class Section:
    """One mapping of the config; records problems instead of stopping at the first."""

    def __init__(
        self, raw: object, path: str, problems: list[str], *, secret: bool = False
    ) -> None:
        self._path = path
        self._problems = problems
        self._used: set[str] = set()
        self._invalid: set[str] = set()
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            shown = hidden(raw) if secret else show(raw)
            problems.append(f"{path}: expected a mapping of settings, got {shown}")
            raw = {}
        self._raw: dict[Any, Any] = raw

    def _key_path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def take(self, key: str, default: T, convert: Callable[[object], T], expected: str) -> T:
        """The converted value of `key`, or `default` when it is absent or bad (recorded)."""
        self._used.add(key)
        if key not in self._raw:
            return default
        value = self._raw[key]
        try:
            return convert(value)
        except (ValueError, TypeError):
            self.problem(key, expected, show(value))
            return default

    def section(self, key: str, *, secret: bool = False) -> Section:
        """A nested mapping; `secret`: a wrong value there is described, never shown."""
        self._used.add(key)
        return Section(self._raw.get(key), self._key_path(key), self._problems, secret=secret)

    def valid(self, *keys: str) -> bool:
        """Whether none of `keys` had a problem, so a check across them means something."""
        return not self._invalid.intersection(keys)

    def problem(self, key: str, expected: str, got: str) -> None:
        self._invalid.add(key)
        self._problems.append(f"{self._key_path(key)}: expected {expected}, got {got}")

    def missing(self, key: str, expected: str) -> None:
        self._problems.append(f"{self._key_path(key)}: required, {expected}")

    def finish(self) -> None:
        """Record every key that no reader asked for: a typo must not fall back to a default."""
        for key in self._raw:
            if key in self._used:
                continue
            known = sorted(self._used)
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            self._problems.append(f"{self._key_path(str(key))}: unknown key ({hint})")


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys, which plain YAML silently overwrites."""

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


def read_yaml(path: Path) -> object:
    """The document in `path`; ConfigError with a clear message for every way reading fails."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, expected a YAML file"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: is not UTF-8 text"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror or exc})"]) from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem and exc.problem.startswith("but "):
            problem = f"{exc.context}, {exc.problem}"
        raise ConfigError([f"{where}: YAML syntax error: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: YAML error: {exc}"]) from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors raise these for values that scan but cannot be built.
        raise ConfigError([f"{path}: invalid YAML value ({exc})"]) from None
    except RecursionError:
        raise ConfigError([f"{path}: YAML nested too deeply"]) from None
    if document is None:
        raise ConfigError([f"{path}: is empty, expected at least app.command"])
    return document


def apply_overrides(document: object, overrides: Mapping[str, Mapping[str, object]]) -> object:
    """A copy of the document with command-line values laid over its sections."""
    if not isinstance(document, dict):
        return document
    merged = dict(document)
    for section_name, values in overrides.items():
        present = {key: value for key, value in values.items() if value is not None}
        if not present:
            continue
        section = merged.get(section_name)
        if section is None:
            merged[section_name] = present
        elif isinstance(section, dict):
            merged[section_name] = {**section, **present}
        # Anything else is left as written, so that parse reports it.
    return merged
