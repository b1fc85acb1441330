"""Events storage consumes: thin adapters onto the service layer."""

from __future__ import annotations

from datetime import timedelta

from contracts import (
    Envelope,
    FileExpired,
    JobCancelled,
    JobSubmitted,
    PairIngestQueued,
    UploadAbandoned,
    UserDeleted,
)
from servicekit import UnitOfWork
from servicekit.messaging import Delivery, EventConsumers
from servicekit.objects import Objects
from storage_service.service_layer.ingest import Ingest
from storage_service.service_layer.lifecycle import (
    abandon_upload,
    forget_user,
    mark_expired,
)


def register_consumers(
    consumers: EventConsumers,  # type: ignore[type-arg]
    ingest: Ingest,
    pair_timeout: timedelta,
    pairs_at_once: int,
    objects: Objects,
) -> None:
    # First, so that after a restart deletions are seen before the jobs they delete.
    @consumers.on(JobCancelled)
    async def job_cancelled(envelope: Envelope[JobCancelled], uow: UnitOfWork) -> None:
        """Pairs not started never will be; what was uploaded for the job goes."""
        await ingest.cancel(envelope, uow)

    @consumers.on(JobSubmitted, prefetch=2)
    async def job_submitted(envelope: Envelope[JobSubmitted], uow: UnitOfWork) -> None:
        """Plan the job's ingest: one work item per pair."""
        await ingest.plan(envelope, uow)

    # A replica holds ``pairs_at_once`` pairs (ffmpeg runs in processes of its own, so a
    # replica uses its cores); the others take the next (a big upload is shared by all).
    @consumers.work(
        PairIngestQueued, priority=True, prefetch=pairs_at_once, consumer_timeout=pair_timeout
    )
    async def pair_queued(envelope: Envelope[PairIngestQueued], delivery: Delivery) -> None:
        """Validate, convert and store one pair (no transaction open meanwhile)."""
        await ingest.store(envelope, delivery)

    @consumers.on(FileExpired)
    async def file_expired(envelope: Envelope[FileExpired], uow: UnitOfWork) -> None:
        await mark_expired(envelope.payload, uow)

    @consumers.on(UploadAbandoned)
    async def upload_abandoned(envelope: Envelope[UploadAbandoned], uow: UnitOfWork) -> None:
        await abandon_upload(envelope.payload, uow)

    @consumers.on(UserDeleted)
    async def user_deleted(envelope: Envelope[UserDeleted], uow: UnitOfWork) -> None:
        await forget_user(envelope.payload.user_id, uow, objects)
