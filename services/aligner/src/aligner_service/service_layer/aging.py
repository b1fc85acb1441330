"""Aging for the work queue, so that no job starves.

RabbitMQ hands out a priority queue's messages strictly by priority: while pro jobs keep
coming, a free job's files never leave the queue. So every FilesStored also lands, in
arrival order, in a second queue of the aligner that holds it until the job has waited
``promote_after``. The job's files that have not started by then are sent to the work
queue once more, at the top priority, where they wait behind other overdue jobs' files
only. Whichever of a file's two copies starts first owns it (``domain.runs``); the other
is dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aligner_service.service_layer.align_files import AlignFiles, work_items
from contracts import Envelope, FileAlignmentQueued, FilesStored
from contracts.envelope import utc_now
from servicekit import UnitOfWork, get_logger

__all__ = ["PROMOTED_PRIORITY", "OverdueJobs"]

log = get_logger(__name__)

PROMOTED_PRIORITY = 9  # the queue's highest: above every plan's


class OverdueJobs:
    def __init__(
        self,
        files: AlignFiles,
        requeue: Callable[[Envelope[FileAlignmentQueued], int], Awaitable[None]],
    ) -> None:
        self._files = files
        self._requeue = requeue

    async def handle(self, envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        """Called once the job has waited long enough (the lane's delay)."""
        job = envelope.payload
        waiting = await self._files.not_started(job.job_id, uow)
        if waiting is None:  # not even planned: plan it now, at the top priority
            promoted = job.model_copy(update={"priority": PROMOTED_PRIORITY})
            await self._files.plan(envelope.model_copy(update={"payload": promoted}), uow)
            return
        items = [i for i in work_items(job, PROMOTED_PRIORITY) if i.file.corpus_file_id in waiting]
        for item in items:
            # A new event id: the file's owner keeps the copy apart from the original.
            copy = Envelope.wrap(item, producer="aligner", correlation_id=envelope.correlation_id)
            await self._requeue(copy, PROMOTED_PRIORITY)
        if items:
            waited = (utc_now() - envelope.occurred_at).total_seconds()
            log.info("job.promoted", files=len(items), waited_seconds=round(waited, 1))
