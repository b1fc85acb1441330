"""Events storage consumes. The validation and conversion of uploads arrives with the
job-flow issue; until then each event is consumed, recorded in the inbox and logged."""

from __future__ import annotations

from contracts import Envelope, FileExpired, JobSubmitted, UserDeleted
from servicekit import UnitOfWork, get_logger
from servicekit.messaging import EventConsumers

log = get_logger(__name__)


def register_consumers(consumers: EventConsumers) -> None:  # type: ignore[type-arg]
    @consumers.on(JobSubmitted)
    async def job_submitted(envelope: Envelope[JobSubmitted], uow: UnitOfWork) -> None:
        log.info("job.received", pairs=len(envelope.payload.pairs))

    @consumers.on(FileExpired)
    async def file_expired(envelope: Envelope[FileExpired], uow: UnitOfWork) -> None:
        log.info("file_expired.received", objects=len(envelope.payload.object_keys))

    @consumers.on(UserDeleted)
    async def user_deleted(envelope: Envelope[UserDeleted], uow: UnitOfWork) -> None:
        log.info("user_deleted.received")
