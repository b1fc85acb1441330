"""Use cases on accounts: each runs in one unit of work and emits its events there."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

from auth_service.adapters.repository import AccountRepository
from auth_service.domain.errors import InvalidCredentials, UserNotFound
from auth_service.domain.model import RefreshToken, User, normalize_email
from auth_service.domain.passwords import Passwords
from auth_service.domain.tokens import TokenIssuer
from contracts import UserRegistered
from contracts.rpc import TokenPair, UserProfile
from servicekit import UnitOfWork, utc_naive_now

__all__ = ["Accounts"]

DEFAULT_SUBSCRIPTION = "free"


def profile(user: User) -> UserProfile:
    return UserProfile(
        id=user.id, email=user.email, subscription=user.subscription, created_at=user.created_at
    )


class Accounts:
    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], passwords: Passwords, tokens: TokenIssuer
    ) -> None:
        self._uow = unit_of_work
        self._passwords = passwords
        self._tokens = tokens

    async def register(self, email: str, password: str, correlation_id: str) -> UserProfile:
        user = User(
            id=uuid4(),
            email=normalize_email(email),
            password_hash=await self._passwords.hash(password),
            subscription=DEFAULT_SUBSCRIPTION,
            created_at=utc_naive_now(),
        )
        async with self._uow() as uow:
            await AccountRepository(uow.session).add_user(user)
            uow.emit(
                UserRegistered(user_id=user.id, subscription=user.subscription),
                correlation_id=correlation_id,
            )
            await uow.commit()
        return profile(user)

    async def login(self, email: str, password: str) -> TokenPair:
        async with self._uow() as uow:
            accounts = AccountRepository(uow.session)
            user = await accounts.user_by_email(normalize_email(email))
            if not await self._passwords.verify(user.password_hash if user else None, password):
                raise InvalidCredentials("wrong email or password")
            assert user is not None  # verify() is False for unknown users
            now = utc_naive_now()
            refresh = self._tokens.refresh_token(now)
            await accounts.add_refresh_token(
                RefreshToken(
                    id=uuid4(),
                    user_id=user.id,
                    family_id=uuid4(),
                    token_hash=refresh.token_hash,
                    expires_at=refresh.expires_at,
                )
            )
            await uow.commit()
        return TokenPair(
            access_token=self._tokens.access_token(user.id, now),
            refresh_token=refresh.token,
            expires_in=int(self._tokens.access_ttl.total_seconds()),
        )

    async def get(self, user_id: UUID) -> UserProfile:
        async with self._uow() as uow:
            user = await AccountRepository(uow.session).user_by_id(user_id)
        if user is None:
            raise UserNotFound("this account does not exist (any more)")
        return profile(user)
