from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.adapters.tables import refresh_tokens, users
from auth_service.domain.errors import EmailAlreadyRegistered
from auth_service.domain.model import RefreshToken, User
from servicekit import utc_naive_now

__all__ = ["AccountRepository"]


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_user(self, user: User) -> None:
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(users).values(
                        id=user.id,
                        email=user.email,
                        password_hash=user.password_hash,
                        subscription=user.subscription,
                        created_at=user.created_at,
                    )
                )
        except IntegrityError as exc:  # the unique index decides races between two sign-ups
            raise EmailAlreadyRegistered("an account with this email already exists") from exc

    async def user_by_email(self, email: str) -> User | None:
        row = (await self._session.execute(select(users).where(users.c.email == email))).first()
        return User(**row._mapping) if row else None

    async def user_by_id(self, user_id: UUID) -> User | None:
        row = (await self._session.execute(select(users).where(users.c.id == user_id))).first()
        return User(**row._mapping) if row else None

    async def lock_user(self, user_id: UUID) -> bool:
        """Locks the user's row until the transaction ends; False if there is none."""
        query = select(users.c.id).where(users.c.id == user_id).with_for_update()
        return (await self._session.execute(query)).first() is not None

    async def emails(self) -> dict[str, UUID]:
        query = select(users.c.email, users.c.id).order_by(users.c.email)
        rows = await self._session.execute(query)
        return {email: user_id for email, user_id in rows}

    async def set_password(self, user_id: UUID, password_hash: str) -> None:
        await self._session.execute(
            update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        )

    async def set_subscription(self, email: str, subscription: str) -> bool:
        done = await self._session.execute(
            update(users).where(users.c.email == email).values(subscription=subscription)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    async def delete_user(self, user_id: UUID) -> bool:
        done = await self._session.execute(delete(users).where(users.c.id == user_id))
        return bool(done.rowcount)  # type: ignore[attr-defined]

    async def add_refresh_token(self, token: RefreshToken) -> None:
        await self._session.execute(
            insert(refresh_tokens).values(
                id=token.id,
                user_id=token.user_id,
                family_id=token.family_id,
                token_hash=token.token_hash,
                expires_at=token.expires_at,
                revoked_at=token.revoked_at,
                created_at=utc_naive_now(),
            )
        )
