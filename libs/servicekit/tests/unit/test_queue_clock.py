"""The bound on the age of a queue's oldest message (servicekit.queue_metrics)."""

from __future__ import annotations

from servicekit.queue_metrics import QueueClock


def test_an_empty_queue_has_no_age_and_a_new_backlog_counts_from_then() -> None:
    clock = QueueClock()
    assert clock.oldest_age(ready=0, now=1000) == 0
    # An hour-old delivery says nothing of a message that arrived after the queue was empty.
    clock.delivered(published=0, now=1000)
    assert clock.oldest_age(ready=3, now=1015) == 15


def test_the_head_is_younger_than_the_last_message_delivered() -> None:
    clock = QueueClock()
    clock.oldest_age(ready=0, now=100)
    clock.delivered(published=500, now=900)
    assert clock.oldest_age(ready=5, now=1000) == 500
    clock.delivered(published=450, now=1001)  # a retried copy, older: the bound stays
    assert clock.oldest_age(ready=5, now=1010) == 510


def test_a_backlog_found_at_start_counts_from_the_first_sample() -> None:
    clock = QueueClock()
    assert clock.oldest_age(ready=7, now=50) == 0
    assert clock.oldest_age(ready=7, now=80) == 30
    clock.delivered(published=None, now=85)  # no timestamp: no bound from it
    assert clock.oldest_age(ready=7, now=90) == 40


def test_a_publisher_clock_ahead_of_ours_gives_no_negative_age() -> None:
    clock = QueueClock()
    clock.delivered(published=2000, now=1000)
    assert clock.oldest_age(ready=1, now=1001) == 1
