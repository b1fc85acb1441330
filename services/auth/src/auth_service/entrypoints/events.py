"""Storage's facts settle the quota: thin adapters onto the service layer."""

from __future__ import annotations

from auth_service.service_layer.quotas import Quotas
from contracts import Envelope, FileExpired, FilesRejected, FilesStored, UploadAbandoned
from servicekit import UnitOfWork
from servicekit.messaging import EventConsumers

__all__ = ["register_consumers"]


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
