"""Events the janitor consumes into its expirations ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from contracts import (
    AlignmentDone,
    Envelope,
    FilesRejected,
    FilesStored,
    JobCancelled,
    JobSubmitted,
    UserDeleted,
)
from janitor_service.service_layer.cleanup import expire_job
from janitor_service.service_layer.ledger import (
    cancel_job,
    forget_user,
    record_results,
    record_stored_files,
)
from janitor_service.service_layer.uploads import record_answered, record_submitted
from servicekit import UnitOfWork
from servicekit.messaging import EventConsumers
from servicekit.objects import Objects


def register_consumers(
    consumers: EventConsumers,  # type: ignore[type-arg]
    default_retention: timedelta,
    unit_of_work: Callable[[], UnitOfWork],
    objects: Objects,
) -> None:
    async def expire_job_now(job_id: UUID) -> None:
        await expire_job(unit_of_work, objects, job_id)

    # Objects of a deleted job that arrive after the deletion (events cross) go at once too.
    @consumers.on(JobSubmitted)
    async def job_submitted(envelope: Envelope[JobSubmitted], uow: UnitOfWork) -> None:
        """Its upload is storage's now: the sweep of incoming/ leaves it alone."""
        await record_submitted(envelope.payload.job_id, envelope.payload.user_id, uow)

    @consumers.on(FilesStored)
    async def files_stored(envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        await record_answered(envelope.payload.job_id, envelope.payload.user_id, uow)
        if await record_stored_files(envelope.payload, uow):
            uow.after_commit(lambda: expire_job_now(envelope.payload.job_id))

    @consumers.on(FilesRejected)
    async def files_rejected(envelope: Envelope[FilesRejected], uow: UnitOfWork) -> None:
        """Storage is done with the job's upload: what is left of it may go."""
        await record_answered(envelope.payload.job_id, envelope.payload.user_id, uow)

    @consumers.on(AlignmentDone)
    async def alignment_done(envelope: Envelope[AlignmentDone], uow: UnitOfWork) -> None:
        if await record_results(envelope.payload, uow, default_retention):
            uow.after_commit(lambda: expire_job_now(envelope.payload.job_id))

    @consumers.on(JobCancelled)
    async def job_cancelled(envelope: Envelope[JobCancelled], uow: UnitOfWork) -> None:
        """The owner deleted the job: its files and results go now."""
        await cancel_job(envelope.payload, uow)
        uow.after_commit(lambda: expire_job_now(envelope.payload.job_id))

    @consumers.on(UserDeleted)
    async def user_deleted(envelope: Envelope[UserDeleted], uow: UnitOfWork) -> None:
        await forget_user(envelope.payload.user_id, uow)
