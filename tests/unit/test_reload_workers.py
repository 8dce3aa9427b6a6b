"""When a reload in place counts as done: the master's workers are all new."""

from __future__ import annotations

from watchdog.runtime.childeffects import not_replaced, replaced


def test_new_workers_beside_old_ones_are_not_yet_a_reload() -> None:
    assert not replaced((10, 11), [10, 11, 20, 21])
    assert not replaced((10, 11), [11, 20])


def test_only_new_workers_are_a_reload() -> None:
    assert replaced((10, 11), [20, 21])
    assert replaced((10, 11), [20])  # a master may run fewer after its reload


def test_no_workers_at_all_are_not_a_reload() -> None:
    assert not replaced((10, 11), [])


def test_why_a_reload_was_not_seen_names_the_old_workers_left() -> None:
    why = not_replaced((10, 11), [11, 20], 5.0)
    within = "within health.startup_timeout (5s)"
    assert why == f"old workers [11] still running {within}: an answer could be theirs"
    assert not_replaced((10, 11), [10, 11], 5.0) == f"no new workers {within}"
