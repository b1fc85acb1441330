"""Refresh tokens, one family per session (a login), in auth's schema."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.adapters.tables import refresh_tokens
from auth_service.domain.model import RefreshToken

__all__ = ["SessionRepository"]


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def token_for_update(self, token_hash: str) -> RefreshToken | None:
        row = (
            await self._session.execute(
                select(refresh_tokens)
                .where(refresh_tokens.c.token_hash == token_hash)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        values = {k: v for k, v in row._mapping.items() if k != "created_at"}
        return RefreshToken(**values)

    async def spend(self, token_id: UUID, now: datetime) -> None:
        await self._session.execute(
            update(refresh_tokens).where(refresh_tokens.c.id == token_id).values(revoked_at=now)
        )

    async def end_sessions(
        self, user_id: UUID, now: datetime, session_id: UUID | None = None
    ) -> list[UUID]:
        """Revokes the live tokens of one session, or of all the user's; returns the
        sessions that were still live."""
        live = (
            select(refresh_tokens.c.family_id)
            .where(refresh_tokens.c.user_id == user_id)
            .where(refresh_tokens.c.revoked_at.is_(None))
            .where(refresh_tokens.c.expires_at > now)
        )
        if session_id is not None:
            live = live.where(refresh_tokens.c.family_id == session_id)
        ended = sorted(set((await self._session.execute(live)).scalars()))
        revoke = (
            update(refresh_tokens)
            .where(refresh_tokens.c.user_id == user_id)
            .where(refresh_tokens.c.revoked_at.is_(None))
        )
        if session_id is not None:
            revoke = revoke.where(refresh_tokens.c.family_id == session_id)
        await self._session.execute(revoke.values(revoked_at=now))
        return ended
