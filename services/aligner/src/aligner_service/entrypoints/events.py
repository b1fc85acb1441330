"""Events the aligner consumes: thin adapters onto the service layer."""

from __future__ import annotations

from datetime import timedelta

from aligner_service.adapters.runs import SqlJobRuns
from aligner_service.service_layer.aging import OverdueJobs
from aligner_service.service_layer.align_files import AlignFiles
from contracts import Envelope, FileAlignmentQueued, FilesStored, JobCancelled, UserDeleted
from servicekit import UnitOfWork, get_logger
from servicekit.messaging import Delivery, EventConsumers
from servicekit.objects import Objects

log = get_logger(__name__)


def register_consumers(
    consumers: EventConsumers,  # type: ignore[type-arg]
    files: AlignFiles,
    overdue: OverdueJobs,
    promote_after: timedelta,
    file_timeout: timedelta,
    objects: Objects,
) -> None:
    # First, so that after a restart deletions are seen before the jobs they delete.
    @consumers.on(JobCancelled)
    async def job_cancelled(envelope: Envelope[JobCancelled], uow: UnitOfWork) -> None:
        """Files not started never will; running ones finish."""
        await files.cancel(envelope.payload, uow)

    # In priority order and one at a time, so that a backlog of jobs is planned (and its
    # files queued) pro jobs first.
    @consumers.on(FilesStored, priority=True, prefetch=1)
    async def files_stored(envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        """Plan the job: one work item per file."""
        await files.plan(envelope, uow)

    # prefetch 1: a replica holds one file at a time, the others take the next.
    @consumers.work(FileAlignmentQueued, priority=True, prefetch=1, consumer_timeout=file_timeout)
    async def file_queued(envelope: Envelope[FileAlignmentQueued], delivery: Delivery) -> None:
        """Align one file (no transaction open meanwhile)."""
        await files.align(envelope, delivery)

    @consumers.on(FilesStored, lane="overdue", delay=promote_after, prefetch=1)
    async def files_stored_overdue(envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        """Held until the job has waited ``promote_after``; then its files that have not
        started are sent to the work queue again at the top priority."""
        await overdue.handle(envelope, uow)

    @consumers.on(UserDeleted)
    async def user_deleted(envelope: Envelope[UserDeleted], uow: UnitOfWork) -> None:
        """The user's runs go; so do results a file still running wrote after storage
        deleted the user's files."""
        user_id = envelope.payload.user_id
        await SqlJobRuns(uow.session).forget_user(user_id)

        async def delete_results() -> None:
            await objects.delete_prefix(f"{user_id}/results/")

        uow.after_commit(delete_results)
