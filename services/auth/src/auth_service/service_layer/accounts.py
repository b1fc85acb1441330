"""Use cases on accounts: each runs in one unit of work and emits its events there."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from uuid import UUID, uuid4

from auth_service.adapters.api_keys import ApiKeyRepository
from auth_service.adapters.repository import AccountRepository
from auth_service.adapters.sessions import SessionRepository
from auth_service.domain.errors import (
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
    UserNotFound,
)
from auth_service.domain.model import RefreshToken, User, normalize_email
from auth_service.domain.passwords import Passwords
from auth_service.domain.tokens import TokenIssuer, hash_refresh_token
from contracts import SessionsRevoked, UserDeleted, UserRegistered
from contracts.rpc import TokenPair, UserProfile
from servicekit import UnitOfWork, utc_naive_now

__all__ = ["Accounts"]

DEFAULT_SUBSCRIPTION = "free"


def profile(user: User) -> UserProfile:
    return UserProfile(
        id=user.id,
        email=user.email,
        subscription=user.subscription,
        created_at=user.created_at.replace(tzinfo=UTC),  # stored naive, always UTC
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
            pair = await self._issue(accounts, user.id, session_id=uuid4())
            await uow.commit()
        return pair

    async def refresh(self, token: str, correlation_id: str) -> TokenPair:
        """Rotation: each refresh token works once. A spent one presented again means a copy
        is about: the whole session ends, for its thief and its owner alike."""
        now = utc_naive_now()
        async with self._uow() as uow:
            sessions = SessionRepository(uow.session)
            current = await sessions.token_for_update(hash_refresh_token(token))
            if current is None or (current.revoked_at is None and current.expires_at <= now):
                raise InvalidRefreshToken("the refresh token is not valid; log in again")
            if current.revoked_at is not None:
                ended = await sessions.end_sessions(current.user_id, now, current.family_id)
                if ended:
                    uow.emit(
                        SessionsRevoked(user_id=current.user_id, session_ids=ended),
                        correlation_id=correlation_id,
                    )
                await uow.commit()
                reused = True
            else:
                await sessions.spend(current.id, now)
                pair = await self._issue(
                    AccountRepository(uow.session), current.user_id, current.family_id
                )
                await uow.commit()
                reused = False
        if reused:  # raised after the commit: the session must end even though we refuse
            raise RefreshTokenReused("this refresh token was already used; the session is ended")
        return pair

    async def end_session(self, user_id: UUID, token: str, correlation_id: str) -> None:
        """Logout: the session the refresh token belongs to ends (if it is the user's)."""
        now = utc_naive_now()
        async with self._uow() as uow:
            sessions = SessionRepository(uow.session)
            current = await sessions.token_for_update(hash_refresh_token(token))
            if current is not None and current.user_id == user_id:
                ended = await sessions.end_sessions(user_id, now, current.family_id)
                self._revoked(uow, user_id, ended, correlation_id)
            await uow.commit()

    async def end_all_sessions(self, user_id: UUID, correlation_id: str) -> None:
        async with self._uow() as uow:
            ended = await SessionRepository(uow.session).end_sessions(user_id, utc_naive_now())
            self._revoked(uow, user_id, ended, correlation_id)
            await uow.commit()

    async def change_password(
        self, user_id: UUID, current_password: str, new_password: str, correlation_id: str
    ) -> None:
        async with self._uow() as uow:
            accounts = AccountRepository(uow.session)
            user = await accounts.user_by_id(user_id)
            if user is None:
                raise UserNotFound("this account does not exist (any more)")
            if not await self._passwords.verify(user.password_hash, current_password):
                raise InvalidCredentials("the current password is wrong")
            await accounts.set_password(user_id, await self._passwords.hash(new_password))
            ended = await SessionRepository(uow.session).end_sessions(user_id, utc_naive_now())
            self._revoked(uow, user_id, ended, correlation_id)
            await uow.commit()

    async def delete(self, user_id: UUID, correlation_id: str) -> None:
        """The account goes, with its sessions, API keys, usage and reservations; every other
        service forgets the user on UserDeleted. Gateways stop taking the keys within their
        key cache's lifetime (seconds)."""
        async with self._uow() as uow:
            ended = await SessionRepository(uow.session).end_sessions(user_id, utc_naive_now())
            await ApiKeyRepository(uow.session).delete_all(user_id)  # the cascade would, too
            if not await AccountRepository(uow.session).delete_user(user_id):
                raise UserNotFound("this account does not exist (any more)")
            self._revoked(uow, user_id, ended, correlation_id)
            uow.emit(UserDeleted(user_id=user_id), correlation_id=correlation_id)
            await uow.commit()

    @staticmethod
    def _revoked(uow: UnitOfWork, user_id: UUID, ended: list[UUID], correlation_id: str) -> None:
        if ended:
            uow.emit(
                SessionsRevoked(user_id=user_id, session_ids=ended), correlation_id=correlation_id
            )

    async def _issue(
        self, accounts: AccountRepository, user_id: UUID, session_id: UUID
    ) -> TokenPair:
        now = utc_naive_now()
        refresh = self._tokens.refresh_token(now)
        await accounts.add_refresh_token(
            RefreshToken(
                id=uuid4(),
                user_id=user_id,
                family_id=session_id,
                token_hash=refresh.token_hash,
                expires_at=refresh.expires_at,
            )
        )
        return TokenPair(
            access_token=self._tokens.access_token(user_id, session_id, now),
            refresh_token=refresh.token,
            expires_in=int(self._tokens.access_ttl.total_seconds()),
        )

    async def get(self, user_id: UUID) -> UserProfile:
        async with self._uow() as uow:
            user = await AccountRepository(uow.session).user_by_id(user_id)
        if user is None:
            raise UserNotFound("this account does not exist (any more)")
        return profile(user)
