"""Every job event updates the read model the public API serves."""

from __future__ import annotations

from contracts import (
    AlignmentDone,
    AlignmentProgress,
    AlignmentStarted,
    EnginesAnnounced,
    Envelope,
    FileExpired,
    FilesRejected,
    FilesStored,
    SessionsRevoked,
    UserDeleted,
)
from gateway_service.service_layer.accounts import forget_user, revoke_sessions
from gateway_service.service_layer.engine_catalog import record_announcement
from gateway_service.service_layer.job_changes import JobChanges
from gateway_service.service_layer.read_model import apply_event
from servicekit import UnitOfWork
from servicekit.messaging import EventConsumers

FACTS = (
    FilesStored,
    FilesRejected,
    AlignmentStarted,
    AlignmentProgress,
    AlignmentDone,
    FileExpired,
)


def register_consumers(consumers: EventConsumers, changes: JobChanges) -> None:  # type: ignore[type-arg]
    """``changes`` hears of each job saved, for the event streams open on this process."""

    async def apply(envelope: Envelope, uow: UnitOfWork) -> None:  # type: ignore[type-arg]
        await apply_event(envelope.payload, uow, changes)

    for fact in FACTS:
        consumers.on(fact)(apply)

    @consumers.on(SessionsRevoked)
    async def sessions_revoked(envelope: Envelope[SessionsRevoked], uow: UnitOfWork) -> None:
        await revoke_sessions(envelope.payload.session_ids, uow)

    @consumers.on(UserDeleted)
    async def user_deleted(envelope: Envelope[UserDeleted], uow: UnitOfWork) -> None:
        await forget_user(envelope.payload.user_id, uow)

    @consumers.on(EnginesAnnounced)
    async def engines_announced(envelope: Envelope[EnginesAnnounced], uow: UnitOfWork) -> None:
        """What an aligner replica can align, for /languages, /engines and submits."""
        await record_announcement(envelope, uow)
