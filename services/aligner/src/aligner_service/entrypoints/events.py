"""Events the aligner consumes: thin adapters onto the service layer."""

from __future__ import annotations

from aligner_service.service_layer.align_job import AlignJobs
from contracts import Envelope, FilesStored, JobCancelled
from servicekit import UnitOfWork, get_logger
from servicekit.messaging import EventConsumers

log = get_logger(__name__)


def register_consumers(consumers: EventConsumers, jobs: AlignJobs) -> None:  # type: ignore[type-arg]
    # prefetch 1: a replica holds one job at a time, the others take the next.
    @consumers.on(FilesStored, priority=True, prefetch=1)
    async def files_stored(envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        """Align every stored file of the job."""
        await jobs.handle(envelope, uow)

    @consumers.on(JobCancelled)
    async def job_cancelled(envelope: Envelope[JobCancelled], uow: UnitOfWork) -> None:
        log.info("job_cancelled.received")  # cancelling a running job comes with DELETE /alignment
