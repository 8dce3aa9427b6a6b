"""The schema's vocabulary: what a key holds (how it is read, what an error says was
expected, its unit), a key, and a group of keys."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from watchdog.config import convert
from watchdog.config.listen import listen_address, listen_spec
from watchdog.core.rules.planned import daily_window
from watchdog.core.units import format_duration, format_size

Converter = Callable[[object], Any]


@dataclass(frozen=True, slots=True)
class Names:
    """A mapping of the user's own names to secret values (app.env, webhook headers)."""

    name_ok: Callable[[str], bool]
    names: str  # what a name must be, for an error that shows the bad name
    value: Callable[[object], str]  # raises ValueError(what it expected)


@dataclass(frozen=True, slots=True)
class Kind:
    """How one key's value is read. `unit` drives how `check` spells it and the reference."""

    expected: str
    convert: Converter | None = None
    # A path is resolved against the config file's folder: the converter is made for it.
    in_folder: Callable[[Path], Converter] | None = None
    unit: str = ""  # "duration" and "size" are spelled as a person writes them
    names: Names | None = None

    def spelled(self, value: Any) -> str:
        """`value` as a person writes it, for an error message: 1m30s, 10MB, 85."""
        if self.unit == "duration":
            return format_duration(value)
        if self.unit == "size":
            return format_size(value)
        if self.unit == "octal":
            return f"{value:03o}"
        return f"{value:g}" if isinstance(value, float) else str(value)

    def shown(self, value: Any) -> Any:
        """`value` for `watchdog check`: durations and sizes spelled, the rest as it is."""
        spelled_units = ("duration", "size", "octal")
        return self.spelled(value) if self.unit in spelled_units and value is not None else value

    def converter(self, folder: Path) -> Converter:
        if self.in_folder is not None:
            return self.in_folder(folder)
        assert self.convert is not None, self.expected
        return self.convert


@dataclass(frozen=True, slots=True)
class Required:
    """The default of a key that must be written; `hint` says what it wants."""

    hint: str


@dataclass(frozen=True, slots=True)
class Key:
    path: str  # e.g. health.interval: also the attribute path, config.health.interval
    kind: Kind
    default: object  # as the YAML file writes it, or Required
    reload: str  # what a reload (SIGHUP, `watchdog reload`) that changes it does
    doc: str
    secret: bool = False  # never shown: `check` prints <redacted>, errors its shape only
    flag: str | None = None  # the command-line flag that may set it
    # (a flag of the same group, the kind this key has when that flag is true): read after it.
    switch: tuple[str, Kind] | None = None

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def plain_doc(self) -> str:
        """The doc without its Markdown, for a YAML comment or a command's help."""
        return plain(self.doc)


@dataclass(frozen=True, slots=True)
class Group:
    path: str
    doc: str
    secret: bool = False  # a wrong value written in its place is described, never shown
    when: str | None = None  # the group is null unless this key of it is set

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]


# A doc's links are relative to the config reference, docs/reference/config.md.
DOCS_FROM = PurePosixPath("docs/reference")


def plain(text: str) -> str:
    def page(link: re.Match[str]) -> str:
        target = link.group(2).partition("#")[0]
        return f"{link.group(1)} in {posixpath.normpath(DOCS_FROM / target)}"

    return re.sub(r"\[([^]]+)\]\(([^)]+)\)", page, text).replace("`", "")


def optional(kind: Kind) -> Kind:
    """`kind`, or null for a setting that is off."""
    if kind.in_folder is not None:
        make = kind.in_folder
        return replace(kind, in_folder=lambda folder: convert.optional(make(folder)))
    assert kind.convert is not None, kind.expected
    return replace(kind, convert=convert.optional(kind.convert))


def whole(minimum: int, unit: str = "") -> Kind:
    of = f"of {unit}, " if unit else "of "
    return Kind(f"a whole number {of}at least {minimum}", convert.whole(minimum), unit=unit)


def choice(*choices: str) -> Kind:
    return Kind(" or ".join(choices), convert.choice(*choices))


DURATION = Kind(
    "a positive duration like 30s, 500ms or 5m", convert.positive_duration, unit="duration"
)
PERCENT = Kind("a percentage above 0 and at most 100", convert.percent, unit="%")
FLAG = Kind("true or false", convert.flag)
RATIO = Kind("a number above 1, like 3", convert.ratio)
SIZE = Kind("a size like 10MB", convert.positive_size, unit="size")
CAP = optional(Kind("a size like 1.5GB", convert.positive_size, unit="size"))
DIRECTORY = Kind("a directory path", in_folder=convert.path)
NAME = Kind("a name of letters, digits, '_', '.', '-'", convert.name)
URL = Kind("an http:// or https:// URL", convert.url)
WEBHOOK_URL = optional(Kind("an http:// or https:// URL", convert.webhook_url))
STATUSES = Kind("a list of HTTP status codes (100-599)", convert.statuses)
SIGNAL = Kind("a signal name like TERM", convert.signal_name)
WINDOW = Kind("a daily window like \"03:00-05:00\" (24-hour, host local time)", daily_window)
COMMAND = Kind("a list of arguments or a command line string", convert.command_words)
SHELL_LINE = Kind("a command line string (shell: true)", convert.nonempty_text)
ARGUMENTS = optional(Kind("a list of arguments (no shell)", convert.arguments))
LISTEN = optional(
    Kind(
        "an address like 127.0.0.1:8000 or [::1]:8000, unix:/path/to.sock, or systemd",
        listen_spec,
    )
)
METRICS_LISTEN = optional(Kind("an address like 127.0.0.1:9464", listen_address))
TEXTFILE = optional(Kind("a path", in_folder=convert.path))
EXPECT_BODY = optional(
    Kind(
        "a text the body must contain, or a mapping of JSON keys to the values they must hold",
        convert.expect_body,
    )
)
ENV_FILE = optional(Kind("the path of a file", in_folder=convert.path))
USER = optional(Kind("a user name or number", convert.account))
GROUP = optional(Kind("a group name or number", convert.account))
UMASK = optional(Kind('an octal mask like "027" (quoted)', convert.umask, unit="octal"))
DISK_PATHS = Kind("a list of directory paths", in_folder=convert.paths)
ALERT_EVENTS = Kind("a list of: " + ", ".join(convert.ALERT_KINDS), convert.alert_kinds)
PROGRAM = optional(
    Kind("the path of the py-spy program, or null to look for it", in_folder=convert.program)
)
ENV = Kind(
    "a mapping of variable names to values",
    convert.readonly_mapping,
    names=Names(convert.env_name, "variable names without '=' or NUL", convert.env_value),
)
HEADERS = Kind(
    "a mapping of header names to values",
    convert.readonly_mapping,
    names=Names(convert.header_name, convert.HEADER_NAMES, convert.header_value),
)
