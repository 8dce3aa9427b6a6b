"""Sparklines of the history for `watchdog status`, the history's probe latency, --watch frames."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Reports
from watchdog.cli.sparkline import BARS, CLEAR, frame, history_rows, sparkline
from watchdog.outputs.console import columns
from watchdog.outputs.events import Event
from watchdog.outputs.history import History


def test_empty_history_draws_nothing() -> None:
    assert sparkline([]) == ""
    assert history_rows([]) == ["  history    no samples yet"]


def test_one_sample_and_constant_values_draw_the_lowest_bar() -> None:
    assert sparkline([42.0]) == BARS[0]
    assert sparkline([7, 7, 7]) == BARS[0] * 3


def test_bars_scale_from_the_lowest_to_the_highest() -> None:
    assert sparkline([0, 7]) == BARS[0] + BARS[-1]
    assert sparkline([10, 20, 30, 40, 50, 60, 70, 80]) == BARS
    assert sparkline([1, 1, 2]) == BARS[0] + BARS[0] + BARS[-1]


def test_gaps_stay_gaps() -> None:
    nan = float("nan")
    assert sparkline([1.0, None, 3.0, nan, "x", True]) == BARS[0] + " " + BARS[-1] + "   "
    assert sparkline([None, None]) == "  "


def test_only_the_last_width_values_are_drawn() -> None:
    values = [100.0] * 10 + list(range(40))
    line = sparkline(values, width=40)
    assert len(line) == 40
    assert line[0] == BARS[0]
    assert line[-1] == BARS[-1]


def _sample(second: int, rss: float, cpu: float | None, latency: float | None) -> dict[str, object]:
    return {
        "timestamp": f"2026-12-02T01:00:{second:02d}+00:00",
        "rss_mb": rss,
        "cpu_percent": cpu,
        "probe_latency_ms": latency,
    }


def test_history_rows_fit_100_columns_with_now_and_range() -> None:
    samples = [_sample(i, 20.0 + i, 0.5 * i, None if i == 3 else 5.0) for i in range(60)]
    rows = history_rows(samples)
    assert rows[0] == (
        "  history    last 40 sample(s), 2026-12-02 01:00:20 UTC to 2026-12-02 01:00:59 UTC"
    )
    rss = next(row for row in rows if row.startswith("  rss"))
    assert rss.endswith("now 79 MB, min 40 MB, max 79 MB")
    assert all(columns(row) <= 100 for row in rows)


def test_a_series_never_recorded_says_so() -> None:
    rows = history_rows([_sample(0, 20.0, None, None)])
    assert rows[0] == "  history    last 1 sample(s)"
    assert "  cpu        (none recorded)" in rows
    assert "  latency    (none recorded)" in rows
    assert rows[1].startswith(f"  rss        {BARS[0]}  now 20 MB")


def test_watch_redraws_at_a_terminal_and_appends_off_one() -> None:
    assert frame("OK: x", at_terminal=True, first=True) == f"{CLEAR}OK: x\n"
    assert frame("OK: x", at_terminal=True, first=False) == f"{CLEAR}OK: x\n"
    assert frame("OK: x", at_terminal=False, first=True) == "OK: x\n"
    assert frame("OK: x", at_terminal=False, first=False) == "\nOK: x\n"


def test_each_sample_carries_the_last_probe_latency_of_its_child(tmp_path: Path) -> None:
    history = History(tmp_path, "t", 10, Reports())
    at = 0.0

    def feed(name: str, **fields: object) -> None:
        nonlocal at
        at += 20.0
        history.on_event(Event(name, fields=fields, at=at, wall=1_700_000_000 + at))

    feed("resource_sample", rss_mb=1.0)
    feed("probe_ok", latency=0.0123)
    feed("resource_sample", rss_mb=2.0)
    feed("probe_failed", latency=0.2, consecutive=1)
    feed("resource_sample", rss_mb=3.0)
    feed("probe_ok", latency=0.004)
    feed("probe_failed", latency=0.001, counted=False)  # booting: not the child's answer
    feed("resource_sample", rss_mb=4.0)
    feed("child_started", pid=2)
    feed("resource_sample", rss_mb=5.0)
    samples = list(history.samples)
    assert [s["probe_latency_ms"] for s in samples] == [None, 12.3, None, 4.0, None]
    assert [s["rss_mb"] for s in samples] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_the_history_file_is_rewritten_every_few_samples_not_with_each(tmp_path: Path) -> None:
    """At the guide's pace (a sample every 10 s) each sample rewrote the whole file; status
    joins it to the state file's last ten samples, so every fifth sample is enough."""
    history = History(tmp_path, "t", 100, Reports())
    path = tmp_path / "t_history.json"

    def stored() -> list[float]:
        return [s["rss_mb"] for s in json.loads(path.read_text())["samples"]]

    seen = []
    for index in range(12):
        at = 10.0 * (index + 1)  # past HISTORY_EVERY each time
        history.on_event(Event("resource_sample", fields={"rss_mb": float(index)}, at=at, wall=at))
        seen.append(stored()[-1])
    # The first at once, then every fifth.
    assert seen == [0.0] * 5 + [5.0] * 5 + [10.0] * 2
