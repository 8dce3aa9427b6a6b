"""The quick cap check's pace: quick near the cap or while growing, calm otherwise."""

from __future__ import annotations

import pytest

from watchdog.sensors.rss import CAP_CHECK_LONGEST, CapPacer

MB = 2**20


def test_a_calm_tree_far_from_its_cap_is_checked_at_the_longest_pace() -> None:
    pacer = CapPacer(shortest=0.1)
    assert pacer.next_delay(50 * MB, 200 * MB, now=0.0) == CAP_CHECK_LONGEST
    assert pacer.next_delay(50 * MB, 200 * MB, now=1.0) == CAP_CHECK_LONGEST
    assert pacer.next_delay(49 * MB, 200 * MB, now=2.0) == CAP_CHECK_LONGEST  # shrinking


def test_growth_brings_the_next_check_before_half_the_headroom_is_gone() -> None:
    pacer = CapPacer(shortest=0.1)
    pacer.next_delay(50 * MB, 200 * MB, now=0.0)
    # 20 MB/s with 130 MB to go: half of it would take 3.25 s; capped at the longest.
    assert pacer.next_delay(70 * MB, 200 * MB, now=1.0) == CAP_CHECK_LONGEST
    # 12 MB to go at 20 MB/s: 6 MB takes 0.3 s.
    assert pacer.next_delay(188 * MB, 200 * MB, now=6.9) == pytest.approx(0.3)
    # 1 MB to go: as quick as allowed.
    assert pacer.next_delay(199 * MB, 200 * MB, now=7.25) == 0.1


def test_a_leak_paced_this_way_is_caught_within_a_shortest_step_of_the_cap() -> None:
    """Simulated 20 MB/s leak from 30 MB against a 200 MB cap: the first check over the
    cap comes at most one shortest interval's growth (2 MB) past it."""
    pacer, now, rate, cap = CapPacer(shortest=0.1), 0.0, 20 * MB, 200 * MB
    checks = 0
    while True:
        rss = int(30 * MB + rate * now)
        checks += 1
        if rss >= cap:
            break
        now += pacer.next_delay(rss, cap, now)
    assert rss - cap <= rate * 0.1
    assert checks < 40  # against 86 at a fixed 100 ms


def test_the_fastest_recent_growth_counts_not_the_last() -> None:
    pacer = CapPacer(shortest=0.1)
    pacer.next_delay(100 * MB, 200 * MB, now=0.0)
    pacer.next_delay(180 * MB, 200 * MB, now=1.0)  # 80 MB/s burst
    # Flat since, but the burst is recent: 20 MB of room / (2 x 80 MB/s).
    assert pacer.next_delay(180 * MB, 200 * MB, now=1.1) == pytest.approx(0.125)


def test_over_or_near_the_cap_is_checked_at_the_quickest() -> None:
    pacer = CapPacer(shortest=0.05)
    assert pacer.next_delay(210 * MB, 200 * MB, now=0.0) == 0.05
    assert pacer.next_delay(195 * MB, 200 * MB, now=0.05) == 0.05  # shrinking, but 5 % away


def test_a_new_child_forgets_the_old_ones_growth() -> None:
    pacer = CapPacer(shortest=0.05)
    pacer.next_delay(20 * MB, 200 * MB, now=0.0)
    assert pacer.next_delay(100 * MB, 200 * MB, now=1.0) < CAP_CHECK_LONGEST  # 80 MB/s
    pacer.restart()
    assert pacer.next_delay(30 * MB, 200 * MB, now=1.1) == CAP_CHECK_LONGEST  # no growth known


def test_a_shortest_beyond_the_longest_wins() -> None:
    pacer = CapPacer(shortest=3600.0)  # cap_interval: 1h, as a test slows it right down
    assert pacer.next_delay(50 * MB, 200 * MB, now=0.0) == 3600.0
