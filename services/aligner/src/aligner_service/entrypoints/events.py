"""Events the aligner consumes. Alignment itself arrives with the job-flow issue; until
then each event is consumed, recorded in the inbox and logged."""

from __future__ import annotations

from contracts import Envelope, FilesStored, JobCancelled
from servicekit import UnitOfWork, get_logger
from servicekit.messaging import EventConsumers

log = get_logger(__name__)


def register_consumers(consumers: EventConsumers) -> None:  # type: ignore[type-arg]
    @consumers.on(FilesStored, priority=True)
    async def files_stored(envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        log.info("files_stored.received", files=len(envelope.payload.files))

    @consumers.on(JobCancelled)
    async def job_cancelled(envelope: Envelope[JobCancelled], uow: UnitOfWork) -> None:
        log.info("job_cancelled.received")
