"""Leak forecasting: a robust slope of RSS over time, trusted only for steady growth.

Theil-Sen takes the median of the slopes between every pair of points, so a spike or a
garbage-collection drop moves it little. A forecast is made only when growth is steady:
most pairwise slopes rise, the fitted line explains the series well, the growth over
the span is large against the series' own noise, and the last third still climbs at
half the overall pace or more (a cache that filled up and levelled off is no leak, and
a random walk rarely keeps going its way to the end).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MAX_POINTS = 120  # pairs grow with the square; a thinned series keeps the shape
MIN_RISING_SHARE = 0.75
MIN_FIT = 0.8
MIN_GROWTH_OVER_NOISE = 3.0
MIN_RECENT_SLOPE_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Trend:
    """Bytes per second of steady growth, and the fitted value at the last point."""

    slope: float
    fitted_now: float
    fit: float
    points: int

    @property
    def mb_per_hour(self) -> float:
        return self.slope * 3600 / 2**20

    def seconds_until(self, threshold: float) -> float | None:
        """When the fitted line reaches `threshold` bytes; 0 if past it, None if never."""
        if self.fitted_now >= threshold:
            return 0.0
        return (threshold - self.fitted_now) / self.slope if self.slope > 0 else None


def thin(
    points: Sequence[tuple[float, float]], limit: int = MAX_POINTS
) -> list[tuple[float, float]]:
    """At most `limit` points spread evenly over the series, first and last kept."""
    if len(points) <= limit:
        return list(points)
    step = (len(points) - 1) / (limit - 1)
    return [points[round(index * step)] for index in range(limit)]


def theil_sen(points: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """(slope, intercept, share of pairwise slopes that rise) of (time, value) points."""
    slopes = [
        (y2 - y1) / (x2 - x1)
        for index, (x1, y1) in enumerate(points)
        for x2, y2 in points[index + 1 :]
        if x2 != x1
    ]
    if not slopes:
        return 0.0, points[0][1] if points else 0.0, 0.0
    slope = statistics.median(slopes)
    intercept = statistics.median(y - slope * x for x, y in points)
    rising = sum(1 for s in slopes if s > 0) / len(slopes)
    return slope, intercept, rising


def steady_growth(
    points: Sequence[tuple[float, float]], min_samples: int, min_span: float
) -> Trend | None:
    """A Trend when the series grows steadily enough to forecast from, else None."""
    if len(points) < min_samples or points[-1][0] - points[0][0] < min_span:
        return None
    series = thin(points)
    slope, intercept, rising = theil_sen(series)
    if slope <= 0 or rising < MIN_RISING_SHARE:
        return None
    fitted = [intercept + slope * x for x, _ in series]
    residuals = [y - f for (_, y), f in zip(series, fitted, strict=True)]
    mean = statistics.fmean(y for _, y in series)
    total = sum((y - mean) ** 2 for _, y in series)
    fit = 1.0 - sum(r * r for r in residuals) / total if total else 0.0
    noise = statistics.pstdev(residuals)
    growth = slope * (series[-1][0] - series[0][0])
    if fit < MIN_FIT or growth < MIN_GROWTH_OVER_NOISE * noise:
        return None
    recent_slope, _, _ = theil_sen(series[-max(len(series) // 3, 2) :])
    if recent_slope < MIN_RECENT_SLOPE_SHARE * slope:
        return None
    return Trend(slope=slope, fitted_now=fitted[-1], fit=fit, points=len(series))
