"""When a failed delivery is tried again: exponential back-off within a retry window
(24 hours by default), then it is given up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["RetrySchedule"]


@dataclass(frozen=True)
class RetrySchedule:
    base_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=2)
    window: timedelta = timedelta(hours=24)

    def delay(self, attempts: int) -> timedelta:
        """The pause after the ``attempts``-th failed attempt (1, 2, ...): base, 2x, 4x...
        up to ``max_delay``."""
        if attempts < 1:
            return timedelta(0)
        factor = 1 << min(attempts - 1, 40)
        return min(self.base_delay * factor, self.max_delay)

    def next_attempt(self, attempts: int, first_at: datetime, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failures, or None to give up: the next try
        would fall outside the window opened by the first attempt (``first_at``)."""
        due = now + self.delay(attempts)
        return due if due <= first_at + self.window else None

    def schedule(self, start: datetime) -> list[datetime]:
        """Every attempt's time when each one fails at once (for tests and docs)."""
        times, now, attempts = [start], start, 1
        while (due := self.next_attempt(attempts, start, now)) is not None:
            times.append(due)
            now, attempts = due, attempts + 1
        return times
