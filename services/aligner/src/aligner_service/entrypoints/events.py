"""Events the aligner consumes: thin adapters onto the service layer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from aligner_service.adapters.tables import alignment_runs
from aligner_service.service_layer.aging import OverdueJobs
from aligner_service.service_layer.align_job import AlignJobs
from contracts import Envelope, FilesStored, JobCancelled, UserDeleted
from servicekit import UnitOfWork, get_logger
from servicekit.messaging import EventConsumers
from servicekit.objects import Objects

log = get_logger(__name__)


def register_consumers(
    consumers: EventConsumers,  # type: ignore[type-arg]
    jobs: AlignJobs,
    overdue: OverdueJobs,
    promote_after: timedelta,
    objects: Objects,
) -> None:
    # First, so that after a restart deletions are seen before the jobs they delete.
    @consumers.on(JobCancelled)
    async def job_cancelled(envelope: Envelope[JobCancelled], uow: UnitOfWork) -> None:
        """Not started: it never will. Running: it stops before its next file."""
        await jobs.cancel(envelope.payload, uow)

    # prefetch 1: a replica holds one job at a time, the others take the next.
    @consumers.on(FilesStored, priority=True, prefetch=1)
    async def files_stored(envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        """Align every stored file of the job."""
        await jobs.handle(envelope, uow)

    @consumers.on(FilesStored, lane="overdue", delay=promote_after, prefetch=1)
    async def files_stored_overdue(envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        """Held until the job has waited ``promote_after``; then, if it has not started,
        sent to the job queue again at the top priority."""
        await overdue.handle(envelope, uow)

    @consumers.on(UserDeleted)
    async def user_deleted(envelope: Envelope[UserDeleted], uow: UnitOfWork) -> None:
        """The user's runs go; so do results a job still running wrote after storage
        deleted the user's files."""
        user_id = envelope.payload.user_id
        await uow.session.execute(delete(alignment_runs).where(alignment_runs.c.user_id == user_id))

        async def delete_results() -> None:
            await objects.delete_prefix(f"{user_id}/results/")

        uow.after_commit(delete_results)
