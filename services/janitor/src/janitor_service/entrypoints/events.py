"""Events the janitor consumes into its expirations ledger."""

from __future__ import annotations

from datetime import timedelta

from contracts import AlignmentDone, Envelope, FilesStored, UserDeleted
from janitor_service.service_layer.ledger import forget_user, record_results, record_stored_files
from servicekit import UnitOfWork
from servicekit.messaging import EventConsumers


def register_consumers(consumers: EventConsumers, default_retention: timedelta) -> None:  # type: ignore[type-arg]
    @consumers.on(FilesStored)
    async def files_stored(envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        await record_stored_files(envelope.payload, uow)

    @consumers.on(AlignmentDone)
    async def alignment_done(envelope: Envelope[AlignmentDone], uow: UnitOfWork) -> None:
        await record_results(envelope.payload, uow, default_retention)

    @consumers.on(UserDeleted)
    async def user_deleted(envelope: Envelope[UserDeleted], uow: UnitOfWork) -> None:
        await forget_user(envelope.payload.user_id, uow)
