"""Events the janitor consumes. The expirations ledger arrives with the job-flow issue;
until then each event is consumed, recorded in the inbox and logged."""

from __future__ import annotations

from contracts import AlignmentDone, Envelope, FilesStored, UserDeleted
from servicekit import UnitOfWork, get_logger
from servicekit.messaging import EventConsumers

log = get_logger(__name__)


def register_consumers(consumers: EventConsumers) -> None:  # type: ignore[type-arg]
    @consumers.on(FilesStored)
    async def files_stored(envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        log.info("files_stored.received", files=len(envelope.payload.files))

    @consumers.on(AlignmentDone)
    async def alignment_done(envelope: Envelope[AlignmentDone], uow: UnitOfWork) -> None:
        log.info("alignment_done.received", status=envelope.payload.status)

    @consumers.on(UserDeleted)
    async def user_deleted(envelope: Envelope[UserDeleted], uow: UnitOfWork) -> None:
        log.info("user_deleted.received")
