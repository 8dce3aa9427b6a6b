"""A document read by the schema: each key converted or its default, every problem recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from watchdog.config.kinds import Group, Key, Kind, Required
from watchdog.config.reader import Section, secret_mapping
from watchdog.config.schema import CHILDREN, GROUPS


class Reading:
    """The values read so far (key path -> value) and the sections they came from.

    The cross-key rules look values up by key path, record their problems under the key
    they blame, and may replace a value (a default that depends on another key).
    """

    def __init__(self, sections: dict[str, Section], folder: Path) -> None:
        self.folder = folder  # relative paths resolve against the config file's folder
        self.values: dict[str, Any] = {}
        self._sections = sections  # group path -> its section ("" for the document)

    def read(self, path: str) -> None:
        """The group at `path` and every group in it; keys the schema lacks are left for
        `finish` to report."""
        section = self._sections.get(path)
        if section is None:
            group, parent = GROUPS[path], self._sections[path.rpartition(".")[0]]
            section = self._sections[path] = parent.section(group.name, secret=group.secret)
        entries = CHILDREN[path]
        switched = [entry for entry in entries if isinstance(entry, Key) and entry.switch]
        for entry in [entry for entry in entries if entry not in switched] + switched:
            if isinstance(entry, Group):
                self.read(entry.path)
            else:
                self.values[entry.path] = self._take(section, entry, self._kind(entry))

    def _kind(self, key: Key) -> Kind:
        if key.switch is None:
            return key.kind
        flag, kind = key.switch
        return kind if self.values[f"{key.path.rpartition('.')[0]}.{flag}"] is True else key.kind

    def _take(self, section: Section, key: Key, kind: Kind) -> Any:
        name = key.name
        convert = kind.converter(self.folder)
        if isinstance(key.default, Required):
            value = section.take(name, None, convert, kind.expected)
            if name not in section:
                section.missing(name, key.default.hint)
            return value
        default = convert(key.default)
        if kind.names is None:
            return section.take(name, default, convert, kind.expected, secret=key.secret)
        names = kind.names
        mapping = secret_mapping(section, name, names.name_ok, names.names, names.value)
        if mapping is None:
            section.invalidate(name)
            return default
        return mapping

    def finish(self, path: str) -> None:
        """Report every key written in the group at `path` (and below) that it lacks."""
        for entry in CHILDREN[path]:
            if isinstance(entry, Group):
                self.finish(entry.path)
        self._sections[path].finish()

    def build(self, path: str, classes: Mapping[str, Callable[..., Any]]) -> Any:
        """The record of the group at `path` (`classes`: group path -> its record type)."""
        group = GROUPS[path]
        if group.when is not None and self.values[f"{path}.{group.when}"] is None:
            return None
        fields = {
            entry.name: (
                self.build(entry.path, classes)
                if isinstance(entry, Group)
                else self.values[entry.path]
            )
            for entry in CHILDREN[path]
        }
        return classes[path](**fields)

    # -- for the rules --------------------------------------------------------------------

    def __getitem__(self, path: str) -> Any:
        return self.values[path]

    def __setitem__(self, path: str, value: Any) -> None:
        self.values[path] = value

    def _at(self, path: str) -> tuple[Section, str]:
        group, _, name = path.rpartition(".")
        return self._sections[group], name

    def _each(self, paths: tuple[str, ...]) -> Iterator[tuple[Section, str]]:
        return (self._at(path) for path in paths)

    def written(self, *paths: str) -> bool:
        """Whether any of `paths` was written (rather than left to its default)."""
        return any(name in section for section, name in self._each(paths))

    def raw(self, path: str) -> object:
        section, name = self._at(path)
        return section.raw(name)

    def valid(self, *paths: str) -> bool:
        """Whether none of `paths` had a problem, so a check across them means something."""
        return all(section.valid(name) for section, name in self._each(paths))

    def problem(self, path: str, expected: str, got: str) -> None:
        section, name = self._at(path)
        section.problem(name, expected, got)

    def missing(self, path: str, expected: str) -> None:
        section, name = self._at(path)
        section.missing(name, expected)

    def name_of(self, path: str) -> str:
        """What the user typed to set `path`: its flag (e.g. --interval), or the path."""
        section, name = self._at(path)
        return section.name_of(name)
