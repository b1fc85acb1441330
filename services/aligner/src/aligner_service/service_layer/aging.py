"""Aging for the job queue, so that no job starves.

RabbitMQ hands out a priority queue's messages strictly by priority: while pro jobs keep
coming, a free job never leaves the queue. So every FilesStored also lands, in arrival
order, in a second queue of the aligner that holds each job until it has waited
``promote_after``. A job that has not started by then is sent to the job queue once more,
at the top priority, where it waits behind other overdue jobs only. Whichever of the two
copies starts first owns the job (``AlignJobs``); the other is acknowledged and dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import uuid4

from sqlalchemy import select

from aligner_service.adapters.tables import alignment_runs
from contracts import Envelope, FilesStored
from contracts.envelope import utc_now
from servicekit import UnitOfWork, get_logger

__all__ = ["PROMOTED_PRIORITY", "OverdueJobs"]

log = get_logger(__name__)

PROMOTED_PRIORITY = 9  # the queue's highest: above every plan's


class OverdueJobs:
    def __init__(self, requeue: Callable[[Envelope[FilesStored], int], Awaitable[None]]) -> None:
        self._requeue = requeue

    async def handle(self, envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        """Called once the job has waited long enough (the lane's delay)."""
        job_id = envelope.payload.job_id
        started = (
            await uow.session.execute(
                select(alignment_runs.c.job_id).where(alignment_runs.c.job_id == job_id)
            )
        ).first()
        if started is not None:
            return
        # A new event id: the inbox keeps the copy apart from the original delivery.
        await self._requeue(envelope.model_copy(update={"event_id": uuid4()}), PROMOTED_PRIORITY)
        waited = (utc_now() - envelope.occurred_at).total_seconds()
        log.info("job.promoted", waited_seconds=round(waited, 1), priority=PROMOTED_PRIORITY)
