"""Storage's and the aligner's facts settle the quota: thin adapters onto the service
layer."""

from __future__ import annotations

from auth_service.service_layer.quotas import Quotas
from contracts import (
    AlignmentDone,
    Envelope,
    FileExpired,
    FilesRejected,
    FilesStored,
    UploadAbandoned,
)
from servicekit import UnitOfWork, get_logger
from servicekit.messaging import EventConsumers

__all__ = ["register_consumers"]

log = get_logger(__name__)


def register_consumers(consumers: EventConsumers, quotas: Quotas) -> None:  # type: ignore[type-arg]
    @consumers.on(FilesStored)
    async def files_stored(envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        await quotas.settle(envelope.payload, uow)

    @consumers.on(FilesRejected)
    async def files_rejected(envelope: Envelope[FilesRejected], uow: UnitOfWork) -> None:
        await quotas.release(envelope.payload, uow)

    @consumers.on(FileExpired)
    async def file_expired(envelope: Envelope[FileExpired], uow: UnitOfWork) -> None:
        await quotas.give_back(envelope.payload, uow)

    @consumers.on(UploadAbandoned)
    async def upload_abandoned(envelope: Envelope[UploadAbandoned], uow: UnitOfWork) -> None:
        """The upload never became a job: its reservation goes now, not after an hour."""
        await quotas.abandon(envelope.payload, uow)

    @consumers.on(AlignmentDone)
    async def alignment_done(envelope: Envelope[AlignmentDone], uow: UnitOfWork) -> None:
        """Files that were not aligned give their minutes back."""
        seconds = await quotas.refund(envelope.payload, uow)
        if seconds:
            log.info("quota.minutes_refunded", seconds=round(seconds, 3))
