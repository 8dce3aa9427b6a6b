"""Durations and sizes as people write them in a config file."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

_DURATION_UNITS = {"ms": Fraction(1, 1000), "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d)"
_DURATION_WHOLE = re.compile(rf"(?:{_DURATION_PART})+")
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")

# Binary multiples, as systemd, Docker and the guide's 10*1024*1024 read them.
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a string such as 500ms, 30s, 5m, 1h30m."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a duration")
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str):
            text = value.strip().lower().replace(" ", "")
            if _PLAIN_NUMBER.fullmatch(text):
                seconds = float(text)
            elif _DURATION_WHOLE.fullmatch(text):
                seconds = float(
                    sum(
                        Fraction(amount) * _DURATION_UNITS[unit]
                        for amount, unit in re.findall(_DURATION_PART, text)
                    )
                )
            else:
                raise ValueError(f"not a duration: {value!r}")
        else:
            raise ValueError(f"not a duration: {value!r}")
    except OverflowError:
        raise ValueError("a duration must be finite") from None
    if not math.isfinite(seconds):
        raise ValueError("a duration must be finite")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from a number of bytes or a string such as 512KB, 10MB, 1.5GiB."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a size")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip().lower())
        if match and match.group(2) in _SIZE_UNITS:
            return int(Fraction(match.group(1)) * _SIZE_UNITS[match.group(2)])
    raise ValueError(f"not a size: {value!r}")


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of a duration: 0.5 -> 500ms, 300 -> 5m, 90 -> 90s."""
    shortest = repr(float(seconds))  # the shortest decimal that reads back as `seconds`
    exact = Fraction(shortest)
    if exact < 1 and (exact * 1000).denominator == 1:
        return f"{int(exact * 1000)}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if exact >= size and (exact / size).denominator == 1:
            return f"{int(exact / size)}{unit}"
    return f"{format(Decimal(shortest), 'f').removesuffix('.0')}s"


def format_span(seconds: float) -> str:
    """A span for a person, to the second: 3599 -> 59m59s, 3600 -> 1h, 0.4 -> 0s."""
    left = max(0, round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def format_size(size: int) -> str:
    """The shortest exact spelling of a size in binary units: 10485760 -> 10MB."""
    for unit, multiple in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= multiple and size % multiple == 0:
            return f"{size // multiple}{unit}"
    return f"{size}B"
