"""Aging for the work queue, so that no file starves.

RabbitMQ hands out a priority queue's messages strictly by priority: while pro jobs keep
coming, a free job's files never leave the queue. So every work item also lands, in
arrival order, in a second queue of the aligner that holds it until it has waited
``promote_after``. A file that has not started by then is sent to the work queue once
more, at the top priority, where it waits behind other overdue files only. Whichever of
the two copies starts first owns the file (``domain.runs``); the other is dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import uuid4

from aligner_service.service_layer.align_files import AlignFiles
from contracts import Envelope, FileAlignmentQueued
from contracts.envelope import utc_now
from servicekit import UnitOfWork, get_logger

__all__ = ["PROMOTED_PRIORITY", "OverdueFiles"]

log = get_logger(__name__)

PROMOTED_PRIORITY = 9  # the queue's highest: above every plan's


class OverdueFiles:
    def __init__(
        self,
        files: AlignFiles,
        requeue: Callable[[Envelope[FileAlignmentQueued], int], Awaitable[None]],
    ) -> None:
        self._files = files
        self._requeue = requeue

    async def handle(self, envelope: Envelope[FileAlignmentQueued], uow: UnitOfWork) -> None:
        """Called once the file has waited long enough (the lane's delay)."""
        if not await self._files.is_waiting(envelope.payload, uow):
            return
        # A new event id: the inbox and the file's owner keep the copy apart.
        await self._requeue(envelope.model_copy(update={"event_id": uuid4()}), PROMOTED_PRIORITY)
        waited = (utc_now() - envelope.occurred_at).total_seconds()
        log.info("file.promoted", waited_seconds=round(waited, 1), priority=PROMOTED_PRIORITY)
