"""Worker recycles counted for Prometheus: zero from the start, one per worker_recycled."""

from __future__ import annotations

from tests.unit.test_metrics import event, feed, new_metrics, value


def test_each_recycled_worker_is_counted_and_nothing_else_is() -> None:
    metrics = new_metrics()
    families = feed(metrics)
    assert value(families, "watchdog_worker_recycles_total") == 0
    recycled = event("worker_recycled", pid=201, rss_mb=150.0, cap_mb=100.0, signal="SIGTERM")
    others = [event("worker_replaced", pid=201, new=[203]), event("worker_recycling_paused")]
    families = feed(metrics, recycled, *others, recycled)
    assert value(families, "watchdog_worker_recycles_total") == 2
    assert value(families, "watchdog_restarts_total", reason="other") == 0
