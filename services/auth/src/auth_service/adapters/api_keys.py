"""API keys in auth's schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.adapters.tables import api_keys
from auth_service.domain.api_keys import LAST_USED_RESOLUTION, ApiKey
from contracts.api_keys import ApiKeyScope

__all__ = ["ApiKeyRepository"]


def _key(row: Any) -> ApiKey:
    values = dict(row._mapping)
    return ApiKey(**values | {"scope": ApiKeyScope(values["scope"])})


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, key: ApiKey) -> None:
        await self._session.execute(
            insert(api_keys).values(
                id=key.id,
                user_id=key.user_id,
                label=key.label,
                scope=key.scope.value,
                prefix=key.prefix,
                key_hash=key.key_hash,
                created_at=key.created_at,
            )
        )

    async def count_live(self, user_id: UUID) -> int:
        query = (
            select(func.count())
            .select_from(api_keys)
            .where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
        )
        return int((await self._session.execute(query)).scalar_one())

    async def live(self, user_id: UUID) -> list[ApiKey]:
        query = (
            select(api_keys)
            .where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
            .order_by(api_keys.c.created_at.desc())
        )
        return [_key(row) for row in await self._session.execute(query)]

    async def live_by_hash(self, key_hash: str) -> ApiKey | None:
        query = select(api_keys).where(
            api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
        )
        row = (await self._session.execute(query)).first()
        return _key(row) if row else None

    async def revoke(self, user_id: UUID, key_id: UUID, now: datetime) -> bool:
        done = await self._session.execute(
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                api_keys.c.user_id == user_id,
                api_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    async def note_use(self, key_id: UUID, now: datetime) -> None:
        """Sets last_used_at unless it was set within the last minute: one conditional
        statement, so racing gateways write it once."""
        await self._session.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id)
            .where(
                or_(
                    api_keys.c.last_used_at.is_(None),
                    api_keys.c.last_used_at <= now - LAST_USED_RESOLUTION,
                )
            )
            .values(last_used_at=now)
        )

    async def delete_all(self, user_id: UUID) -> None:
        await self._session.execute(delete(api_keys).where(api_keys.c.user_id == user_id))
