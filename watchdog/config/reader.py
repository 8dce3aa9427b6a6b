"""A config document's sections, read with errors that name the key path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

T = TypeVar("T")
_SHOWN_LENGTH = 60
MAX_PROBLEMS = 100  # a file of garbage must not make an error of megabytes


def printable(text: str) -> str:
    """`text` with lone surrogates escaped, so that it can be written anywhere as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ConfigError(Exception):
    """Every problem found in a configuration, one message each."""

    def __init__(self, problems: Iterable[str]) -> None:
        listed = [printable(problem) for problem in problems]
        if len(listed) > MAX_PROBLEMS:
            more = len(listed) - MAX_PROBLEMS
            listed = [*listed[:MAX_PROBLEMS], f"... and {more} more problems"]
        self.problems = tuple(listed)
        super().__init__("\n".join(self.problems))


def _scalar(value: object, limit: int) -> str:
    """A scalar as JSON writes it; a number too long to print is described instead."""
    if isinstance(value, str):
        return json.dumps(value[: limit + 1], ensure_ascii=False)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"a {value.bit_length()}-bit number"
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return _scalar(str(value), limit)  # a date, bytes: what YAML's other types read as


def _pieces(value: object, limit: int) -> Iterator[str]:
    """`value` as JSON-like text, piece by piece, so that it can be cut before it is built."""
    if isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ", " if index else ""
            yield _scalar(key if isinstance(key, str) else _scalar(key, limit).strip('"'), limit)
            yield ": "
            yield from _pieces(item, limit)
        yield "}"
    elif isinstance(value, list | tuple | set | frozenset):
        yield "["
        for index, item in enumerate(value):
            yield ", " if index else ""
            yield from _pieces(item, limit)
        yield "]"
    else:
        yield _scalar(value, limit)


def show(value: object, limit: int = _SHOWN_LENGTH) -> str:
    """A value as the user wrote it, quoted and shortened for an error message.

    Shortened while it is written: a value built from aliases may expand to gigabytes.
    """
    text = ""
    for piece in _pieces(value, limit):
        text += piece
        if len(text) > limit:
            return printable(text[: limit - 3] + "...")
    return printable(text)


def key_label(key: object) -> str:
    """A key as a key path shows it: as written when plain, else quoted like a value."""
    plain = isinstance(key, str) and 0 < len(key) <= _SHOWN_LENGTH and key.isprintable()
    return key if plain and not set(' ."') & set(key) else show(key)  # type: ignore[return-value]


def hidden(value: object) -> str:
    """A secret's stand-in in an error message: its shape, never its text."""
    if isinstance(value, str):
        return f"a str of {len(value)} characters (not shown: a secret)"
    if isinstance(value, list | dict):
        kind, count = "list" if isinstance(value, list) else "mapping", len(value)
        return f"a {kind} of {count} item{'' if count == 1 else 's'} (not shown: a secret)"
    kind = "bool" if isinstance(value, bool) else "number" if isinstance(value, int | float) else ""
    return f"a {kind or type(value).__name__} (not shown: a secret)"


class Section:
    """One mapping of the config; records problems instead of stopping at the first."""

    def __init__(
        self,
        raw: object,
        path: str,
        problems: list[str],
        *,
        secret: bool = False,
        flags: Mapping[str, str] | None = None,
    ) -> None:
        self._path = path
        self._problems = problems
        self._flags = flags or {}  # key path -> the command-line flag that gave its value
        self._used: set[str] = set()
        self._used_all = False
        self._invalid: set[str] = set()
        self.clean = True  # no problem found here yet
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            shown = hidden(raw) if secret else show(raw)
            problems.append(f"{path}: expected a mapping of settings, got {shown}")
            self.clean = False
            raw = {}
        self._raw: dict[Any, Any] = raw

    def _key_path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def name_of(self, key: str) -> str:
        """What the user typed to set `key`: its flag (e.g. --interval), or its key path."""
        return self._flags.get(self._key_path(key), self._key_path(key))

    def _where(self, key: str) -> str:
        path = self._key_path(key)
        return f"{self._flags[path]} ({path})" if path in self._flags else path

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def raw(self, key: str) -> object:
        """`key`'s value as written (None when it is not)."""
        return self._raw.get(key)

    def take(
        self,
        key: str,
        default: T,
        convert: Callable[[object], T],
        expected: str,
        *,
        secret: bool = False,
    ) -> T:
        """The converted value of `key`, or `default` when it is absent or bad (recorded).

        `secret`: a bad value is described, never shown.
        """
        self._used.add(key)
        if key not in self._raw:
            return default
        value = self._raw[key]
        try:
            return convert(value)
        except (ValueError, TypeError):
            self.problem(key, expected, hidden(value) if secret else show(value))
            return default

    def entries(self) -> list[tuple[object, object]]:
        """Every key and value as written, for a mapping whose keys are the user's own."""
        self._used_all = True
        return list(self._raw.items())

    def section(self, key: str, *, secret: bool = False) -> Section:
        """A nested mapping; `secret`: a wrong value there is described, never shown."""
        self._used.add(key)
        raw, path = self._raw.get(key), self._key_path(key)
        return Section(raw, path, self._problems, secret=secret, flags=self._flags)

    def valid(self, *keys: str) -> bool:
        """Whether none of `keys` had a problem, so a check across them means something."""
        return not self._invalid.intersection(keys)

    def invalidate(self, key: str) -> None:
        """`key` had a problem recorded below it (in its own entries)."""
        self._invalid.add(key)

    def problem(self, key: str, expected: str, got: str) -> None:
        self._invalid.add(key)
        self._add(f"{self._where(key)}: expected {expected}, got {got}")

    def _add(self, problem: str) -> None:
        self.clean = False
        self._problems.append(problem)

    def missing(self, key: str, expected: str) -> None:
        self._add(f"{self._key_path(key)}: required, {expected}")

    def finish(self) -> None:
        """Record every key that no reader asked for: a typo must not fall back to a default."""
        for key in self._raw:
            if key in self._used or self._used_all:
                continue
            import difflib  # noqa: PLC0415 - only a bad config needs it; `run` stays lighter

            known = sorted(self._used)
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            if isinstance(key, bool):  # YAML 1.1 reads a bare on, off, yes, no as a boolean
                bare = "on or yes is YAML for true" if key else "off or no is YAML for false"
                hint = f"a bare {bare}; {hint}"
            self._add(f"{self._key_path(key_label(key))}: unknown key ({hint})")


def secret_mapping(
    parent: Section,
    key: str,
    name_ok: Callable[[str], bool],
    names: str,
    convert_value: Callable[[object], str],
) -> Mapping[str, str] | None:
    """A mapping of the user's own names to secret values (app.env, webhook headers).

    A bad name is shown (names are no secrets); a bad value is named by its key path and
    described, never shown. `convert_value` raises ValueError(what it expected).
    None when anything was wrong.
    """
    mapping = parent.section(key, secret=True)
    values: dict[str, str] = {}
    for name, value in mapping.entries():
        if not isinstance(name, str) or not name_ok(name):
            parent.problem(key, names, show(name))
            continue
        try:
            values[name] = convert_value(value)
        except ValueError as exc:
            mapping.problem(name, str(exc), hidden(value))
    return MappingProxyType(values) if mapping.clean and parent.valid(key) else None


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


def overridden(
    document: object, overrides: Mapping[str, Mapping[str, object]], flags: Mapping[str, str]
) -> dict[str, str]:
    """The flags of the overrides apply_overrides laid over `document`: key path -> flag."""
    if not isinstance(document, dict):
        return {}
    return {
        f"{section}.{key}": flags[f"{section}.{key}"]
        for section, values in overrides.items()
        if isinstance(document.get(section), dict | None)
        for key, value in values.items()
        if value is not None and f"{section}.{key}" in flags
    }
