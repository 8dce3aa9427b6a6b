"""Sparklines of the recent samples for `watchdog status`: pure, fed with the history's samples.

A gap (no value, NaN) stays a gap: a missing sample is not a low one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from watchdog.cli.timeshown import shown_stamp
from watchdog.outputs.console import fit

BARS = "▁▂▃▄▅▆▇█"
GAP = " "
SPARK_WIDTH = 40  # columns of bars: with the label and the figures, a row fits 100


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) or math.isinf(value) else float(value)


def sparkline(values: Sequence[object], width: int = SPARK_WIDTH) -> str:
    """One bar per value (the last `width` of them), scaled from the lowest to the highest.

    Constant values draw the lowest bar: the line says "flat", not "at its maximum".
    """
    shown = [_number(value) for value in list(values)[-width:]] if width > 0 else []
    numbers = [value for value in shown if value is not None]
    if not numbers:
        return GAP * len(shown)
    low, high = min(numbers), max(numbers)
    span = high - low
    top = len(BARS) - 1
    return "".join(
        GAP
        if value is None
        else BARS[0 if span == 0 else min(top, int((value - low) / span * top + 0.5))]
        for value in shown
    )


# (label, sample key, how a figure reads)
SERIES: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("rss", "rss_mb", lambda v: f"{v:g} MB"),
    ("cpu", "cpu_percent", lambda v: f"{v:g}%"),
    ("latency", "probe_latency_ms", lambda v: f"{v:.0f} ms"),
)


def history_rows(samples: Sequence[Mapping[str, Any]], width: int = SPARK_WIDTH) -> list[str]:
    """The history block of `watchdog status`: how many samples, then a sparkline a series
    with its last value and range. No samples: one line saying so."""
    if not samples:
        return ["  history    no samples yet"]
    shown = list(samples)[-width:]
    first, last = (shown_stamp(shown[i].get("timestamp")) for i in (0, -1))
    span = f", {first} to {last}" if first and last and len(shown) > 1 else ""
    rows = [f"  history    last {len(shown)} sample(s){span}"]
    for label, key, spelled in SERIES:
        values = [sample.get(key) for sample in shown]
        numbers = [n for n in map(_number, values) if n is not None]
        if not numbers:
            rows.append(f"  {label:<9}  (none recorded)")
            continue
        now = _number(values[-1])
        figures = f"now {spelled(now)}" if now is not None else "now -"
        figures += f", min {spelled(min(numbers))}, max {spelled(max(numbers))}"
        rows.append(f"  {label:<9}  {sparkline(values, width)}  {figures}")
    return [fit(row) for row in rows]


CLEAR = "\x1b[H\x1b[2J"  # cursor home, erase the screen: the view is redrawn in place


def frame(text: str, at_terminal: bool, first: bool) -> str:
    """One view of `status --watch`: drawn over the last at a terminal; off one (a pipe,
    a log) each view follows the last after a blank line."""
    if at_terminal:
        return f"{CLEAR}{text}\n"
    return f"{text}\n" if first else f"\n{text}\n"
