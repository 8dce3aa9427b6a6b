"""Leak forecasting on synthetic series: steady, noisy, sawtooth, flat, too short."""

from __future__ import annotations

import math
import random

import pytest

from watchdog.core.rules.trend import steady_growth, theil_sen, thin

MB = 2**20


def series(values: list[float], step: float = 60.0) -> list[tuple[float, float]]:
    return [(index * step, value) for index, value in enumerate(values)]


def test_theil_sen_ignores_outliers() -> None:
    """A few wild points barely move the median slope."""
    points = series([100 + 2 * i for i in range(50)], step=1)
    points[10] = (10, 10_000)
    points[30] = (30, -5_000)
    slope, intercept, rising = theil_sen(points)
    assert slope == pytest.approx(2.0)
    assert intercept == pytest.approx(100.0)
    assert rising > 0.9


def test_steady_leak_is_forecast() -> None:
    """50 MB/hour for two hours is found, with the time left to a threshold."""
    points = series([200 * MB + 50 * MB * i / 60 for i in range(120)])
    trend = steady_growth(points, min_samples=30, min_span=1800)
    assert trend is not None
    assert trend.mb_per_hour == pytest.approx(50, rel=0.01)
    hours = trend.seconds_until(trend.fitted_now + 100 * MB) / 3600
    assert hours == pytest.approx(2.0, rel=0.01)
    assert trend.seconds_until(0) == 0.0


def test_noisy_leak_is_still_forecast() -> None:
    """Noise of a few MB around a steady 30 MB/hour climb does not hide it."""
    rng = random.Random(7)
    points = series([300 * MB + 30 * MB * i / 60 + rng.gauss(0, 2 * MB) for i in range(180)])
    trend = steady_growth(points, min_samples=30, min_span=1800)
    assert trend is not None
    assert trend.mb_per_hour == pytest.approx(30, rel=0.1)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("flat", [400 * MB] * 180),
        ("noise only", [400 * MB + random.Random(3).gauss(0, 5 * MB) for _ in range(180)]),
        # A garbage collector's sawtooth: climbs and drops back, no leak underneath.
        ("sawtooth", [400 * MB + (i % 20) * 5 * MB for i in range(180)]),
        ("sine", [400 * MB + 50 * MB * math.sin(i / 10) for i in range(180)]),
        ("shrinking", [400 * MB - MB * i for i in range(180)]),
    ],
)
def test_no_forecast_from_noise(name: str, values: list[float]) -> None:
    """Series without steady growth give no forecast at all."""
    assert steady_growth(series(values), min_samples=30, min_span=1800) is None, name


def test_too_few_or_too_short_gives_nothing() -> None:
    """A forecast needs enough samples over enough time."""
    growing = [MB * i for i in range(100)]
    assert steady_growth(series(growing[:20]), min_samples=30, min_span=60) is None
    assert steady_growth(series(growing, step=1), min_samples=30, min_span=1800) is None


def test_thin_keeps_ends_and_count() -> None:
    """Thinning keeps the first and last points and at most the limit."""
    points = series(list(range(1000)), step=1)
    thinned = thin(points, 120)
    assert len(thinned) == 120
    assert thinned[0] == points[0]
    assert thinned[-1] == points[-1]


def test_growth_that_levelled_off_is_no_leak() -> None:
    """A cache filling for 90 minutes and then flat for 90 is not forecast to grow on."""
    points = series([400 * MB + min(i, 90) * MB for i in range(180)])
    assert steady_growth(points, min_samples=30, min_span=1800) is None


def random_walk(seed: int, count: int = 180, step: float = 2 * MB) -> list[float]:
    rng = random.Random(seed)
    value, values = 400 * MB, []
    for _ in range(count):
        value += rng.gauss(0, step)
        values.append(value)
    return values


def test_random_walks_are_rarely_taken_for_leaks() -> None:
    """Drift-free wandering memory is rarely forecast: 5 % of walks (9 % without the last third)."""
    forecasts = sum(
        steady_growth(series(random_walk(seed)), min_samples=30, min_span=1800) is not None
        for seed in range(400)
    )
    assert forecasts / 400 <= 0.06
