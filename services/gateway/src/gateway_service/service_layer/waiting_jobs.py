"""Samples how many jobs wait for an aligner, and for how long, per plan (for /metrics)."""

from __future__ import annotations

from collections.abc import Callable

from gateway_service.adapters.repository import JobRepository
from gateway_service.metrics import JOBS_OLDEST_WAITING_SECONDS, JOBS_WAITING, plan_label
from servicekit import UnitOfWork, utc_naive_now

__all__ = ["WaitingJobs"]


class WaitingJobs:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work
        self._plans: set[str] = set()  # plans seen: they go back to 0 when none waits

    async def sample(self) -> None:
        async with self._uow() as uow:
            waiting = await JobRepository(uow.session).oldest_waiting()
        now = utc_naive_now()
        counts: dict[str, int] = {}
        ages: dict[str, float] = {}
        for plan, (count, oldest) in waiting.items():
            label = plan_label(plan)
            counts[label] = counts.get(label, 0) + count
            ages[label] = max(ages.get(label, 0.0), (now - oldest).total_seconds())
        self._plans |= counts.keys()
        for label in self._plans:
            JOBS_WAITING.labels(label).set(counts.get(label, 0))
            JOBS_OLDEST_WAITING_SECONDS.labels(label).set(max(0.0, ages.get(label, 0.0)))
