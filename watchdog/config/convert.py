"""Converters for config values: each returns the value or raises ValueError."""

from __future__ import annotations

import re
import shlex
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from watchdog.core.units import parse_duration, parse_size

ALERT_KINDS = (
    "restart",
    "planned",
    "crash",
    "crash_loop",
    "restart_recommended",
    "critical",
    "recovered",
    "remedy_failed",
)
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
LARGEST = 2**63 - 1  # beyond any count or size a setting means, and what other programs read


def positive_duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("must be positive")
    return seconds


def whole(minimum: int) -> Callable[[object], int]:
    def convert(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError
        if not minimum <= value <= LARGEST:
            raise ValueError
        return value

    return convert


def encodable_text(value: object) -> str:
    """A string that every file name, argument and environment can hold.

    YAML's escapes can write a NUL or a lone surrogate ("\\ud800"), which no path or
    argument can be encoded with: found here, not by the first system call that uses it.
    """
    if not isinstance(value, str) or "\0" in value:
        raise ValueError
    value.encode("utf-8")  # UnicodeEncodeError (a ValueError) for a lone surrogate
    return value


def nonempty_text(value: object) -> str:
    text = encodable_text(value)
    if not text.strip():
        raise ValueError
    return text


def path(base_dir: Path) -> Callable[[object], Path]:
    """A path, resolved against the config file's folder."""

    def convert(value: object) -> Path:
        try:
            return (base_dir / nonempty_text(value)).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop is a RuntimeError
            raise ValueError from exc

    return convert


def flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def choice(*choices: str) -> Callable[[object], str]:
    def convert(value: object) -> str:
        if value not in choices:
            raise ValueError
        return str(value)

    return convert


def name(value: object) -> str:
    text = nonempty_text(value)
    if not set(text) <= NAME_CHARS or text[0] in ".-":
        raise ValueError
    return text


def url(value: object) -> str:
    text = nonempty_text(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError
    _ = parts.port  # ValueError for a port that is not a number in 0-65535
    return text


def statuses(value: object) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(whole(100)(item) < 600 for item in items):
        raise ValueError
    return tuple(items)


def env_name(name: str) -> bool:
    """Whether `name` can be an environment variable's name."""
    try:
        return bool(name) and "=" not in name and encodable_text(name) == name
    except ValueError:
        return False


def env_value(value: object) -> str:
    """An environment variable's value; ValueError(what was expected) if it cannot be one."""
    if isinstance(value, bool):  # YAML reads a bare yes, no, on, true as a boolean
        raise ValueError("a string or number value (quote true, yes or on to pass it as text)")
    if not isinstance(value, str | int | float):
        raise ValueError("a string or number value")
    try:
        text = str(value)
    except ValueError:  # a number too long to print
        raise ValueError("a string or number value") from None
    try:
        return encodable_text(text)
    except ValueError:
        raise ValueError("text without NUL or a lone surrogate") from None


def umask(value: object) -> int:
    """An octal string like "027"; a bare 027 is YAML's number 23, so a number is refused."""
    if not isinstance(value, str) or re.fullmatch(r"0?[0-7]{3}", value.strip()) is None:
        raise ValueError
    return int(value, 8)


def account(value: object) -> str | int:
    """A user or group: its name, or its number."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < 2**32 - 1:
            raise ValueError
        return value
    text = nonempty_text(value).strip()
    if text.isdigit():
        return account(int(text))
    if not set(text) <= NAME_CHARS | {"$"} or text[0] == "-":
        raise ValueError
    return text


def signal_name(value: object) -> signal.Signals:
    name = nonempty_text(value).upper()
    try:
        return signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]
    except KeyError:
        raise ValueError from None


def command_words(value: object) -> list[str]:
    if isinstance(value, str):
        words = shlex.split(value)
    elif isinstance(value, list) and all(isinstance(word, str | int | float) for word in value):
        words = [str(word) for word in value]
    else:
        raise ValueError
    if not words or not words[0].strip():
        raise ValueError
    return [encodable_text(word) for word in words]


def arguments(value: object) -> tuple[str, ...]:
    return tuple(command_words(value))


def positive_size(value: object) -> int:
    size = parse_size(value)
    if not 0 < size <= LARGEST:
        raise ValueError
    return size


def ratio(value: object) -> float:
    """A factor above 1 (a number or a numeric string)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 < value < 1e6:
        raise ValueError
    return float(value)


def percent(value: object) -> float:
    """A percentage above 0 and at most 100: a number, or a string like "85%"."""
    if isinstance(value, str) and value.strip().endswith("%"):
        value = float(value.strip().removesuffix("%"))
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
        raise ValueError
    return float(value)


def readonly_mapping(value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError
    return MappingProxyType(dict(value))


def optional(convert: Callable[[object], Any]) -> Callable[[object], Any]:
    """`convert`, or None for a null value (a setting that is off)."""

    def convert_or_none(value: object) -> Any:
        return None if value is None else convert(value)

    return convert_or_none


def paths(base_dir: Path) -> Callable[[object], list[Path]]:
    def convert(value: object) -> list[Path]:
        if not isinstance(value, list):
            raise ValueError
        return [path(base_dir)(item) for item in value]

    return convert


def program(base_dir: Path) -> Callable[[object], str]:
    """A path resolves against the config's folder; a bare name is looked up on PATH later."""

    def convert(value: object) -> str:
        text = nonempty_text(value).strip()
        return str(path(base_dir)(text)) if "/" in text else text

    return convert


def alert_kinds(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) and item in ALERT_KINDS for item in items):
        raise ValueError
    return tuple(dict.fromkeys(items))


def webhook_url(value: object) -> str:
    """A URL httpx will accept too: checked here, not found out when the first alert goes."""
    import httpx  # noqa: PLC0415 - only with a webhook: `status` and `check` stay light

    text = url(value)
    try:
        httpx.URL(text)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError from exc
    if any(ord(character) < 33 for character in text):  # spaces, tabs, newlines
        raise ValueError
    return text


# What HTTP allows (RFC 9110): a name is a token; a value is visible ASCII, with spaces and
# tabs only between its words. A CR or LF in a value passed check, then every alert failed.
HEADER_NAME = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
HEADER_VALUE = re.compile(r"(?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?")
HEADER_NAMES = "header names of letters, digits and !#$%&'*+-.^_`|~"


def expect_body(value: object) -> str | Mapping[str, Any]:
    """A substring of the body, or a mapping of top-level JSON keys to the values they hold."""
    if isinstance(value, dict):
        scalars = (str, int, float, bool, type(None))
        pairs = value.items()
        if not value or not all(isinstance(k, str) and isinstance(v, scalars) for k, v in pairs):
            raise ValueError
        return MappingProxyType(dict(value))
    text = encodable_text(value)
    if not text:
        raise ValueError
    return text


def header_name(name: str) -> bool:
    return HEADER_NAME.fullmatch(name) is not None


def header_value(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("a string value")
    if HEADER_VALUE.fullmatch(value) is None:
        raise ValueError(
            "printable ASCII, spaces only between words (no CR, LF, NUL or other control"
            " character)"
        )
    return value
