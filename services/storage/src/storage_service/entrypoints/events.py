"""Events storage consumes: thin adapters onto the service layer."""

from __future__ import annotations

from contracts import (
    Envelope,
    FileExpired,
    JobCancelled,
    JobSubmitted,
    UploadAbandoned,
    UserDeleted,
)
from servicekit import UnitOfWork
from servicekit.messaging import EventConsumers
from servicekit.objects import Objects
from storage_service.service_layer.ingest import Ingest
from storage_service.service_layer.lifecycle import (
    abandon_upload,
    cancel_job,
    forget_user,
    mark_expired,
)


def register_consumers(consumers: EventConsumers, ingest: Ingest, objects: Objects) -> None:  # type: ignore[type-arg]
    @consumers.on(JobSubmitted, prefetch=2)
    async def job_submitted(envelope: Envelope[JobSubmitted], uow: UnitOfWork) -> None:
        """Validate, convert and store every pair of a submitted job."""
        await ingest.handle(envelope.payload, uow, envelope.correlation_id)

    @consumers.on(FileExpired)
    async def file_expired(envelope: Envelope[FileExpired], uow: UnitOfWork) -> None:
        await mark_expired(envelope.payload, uow)

    @consumers.on(JobCancelled)
    async def job_cancelled(envelope: Envelope[JobCancelled], uow: UnitOfWork) -> None:
        await cancel_job(envelope.payload, uow, objects)

    @consumers.on(UploadAbandoned)
    async def upload_abandoned(envelope: Envelope[UploadAbandoned], uow: UnitOfWork) -> None:
        await abandon_upload(envelope.payload, uow)

    @consumers.on(UserDeleted)
    async def user_deleted(envelope: Envelope[UserDeleted], uow: UnitOfWork) -> None:
        await forget_user(envelope.payload.user_id, uow, objects)
