"""Exponential back-off within the retry window, then the delivery is given up."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from notifier_service.domain.backoff import RetrySchedule

START = datetime(2026, 11, 30, 12, 0, 0)


def test_delays_double_from_the_base_up_to_the_cap() -> None:
    schedule = RetrySchedule(timedelta(seconds=5), timedelta(hours=2), timedelta(hours=24))
    delays = [schedule.delay(n).total_seconds() for n in range(1, 14)]
    assert delays[:6] == [5, 10, 20, 40, 80, 160]
    assert delays[-1] == 7200
    assert delays == sorted(delays)
    assert schedule.delay(1000) == timedelta(hours=2)


def test_the_default_schedule_retries_for_24_hours_then_gives_up() -> None:
    times = RetrySchedule().schedule(START)
    assert times[-1] <= START + timedelta(hours=24)
    assert times[-1] + timedelta(hours=2) > START + timedelta(hours=24)
    assert 15 <= len(times) <= 25
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == sorted(gaps)


def test_no_next_attempt_past_the_window() -> None:
    schedule = RetrySchedule(timedelta(seconds=1), timedelta(minutes=1), timedelta(minutes=10))
    assert schedule.next_attempt(3, START, START + timedelta(seconds=10)) == START + timedelta(
        seconds=14
    )
    assert schedule.next_attempt(20, START, START + timedelta(minutes=9, seconds=30)) is None


def test_a_short_base_makes_test_retries_quick() -> None:
    schedule = RetrySchedule(base_delay=timedelta(seconds=0.5))
    assert sum(schedule.delay(n).total_seconds() for n in (1, 2, 3)) == 3.5
