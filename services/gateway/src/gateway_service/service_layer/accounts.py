"""What the gateway keeps about accounts: ended sessions (to refuse their tokens at once)
and nothing of a deleted user."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from sqlalchemy import delete, insert, select

from gateway_service.adapters.tables import jobs, revoked_sessions
from servicekit import UnitOfWork, utc_naive_now

__all__ = ["forget_user", "is_revoked", "revoke_sessions"]

# Past this, every access token of a revoked session has expired anyway (TTL is at most 1 day).
KEEP_REVOKED = timedelta(days=1, minutes=5)


async def revoke_sessions(session_ids: list[UUID], uow: UnitOfWork) -> None:
    now = utc_naive_now()
    await uow.session.execute(
        delete(revoked_sessions).where(revoked_sessions.c.revoked_at < now - KEEP_REVOKED)
    )
    for session_id in session_ids:
        await uow.session.execute(
            insert(revoked_sessions)
            .prefix_with("IGNORE")
            .values(session_id=session_id, revoked_at=now)
        )


async def is_revoked(session_id: UUID, uow: UnitOfWork) -> bool:
    found = await uow.session.execute(
        select(revoked_sessions.c.session_id).where(revoked_sessions.c.session_id == session_id)
    )
    return found.first() is not None


async def forget_user(user_id: UUID, uow: UnitOfWork) -> None:
    await uow.session.execute(delete(jobs).where(jobs.c.user_id == user_id))  # files cascade
