"""Use cases on API keys: create (shown once), list, revoke, and verify a presented key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from auth_service.adapters.api_keys import ApiKeyRepository
from auth_service.adapters.repository import AccountRepository
from auth_service.domain.api_keys import (
    MAX_KEYS_PER_USER,
    ApiKey,
    hash_api_key,
    new_api_key,
    use_worth_noting,
)
from auth_service.domain.errors import (
    ApiKeyNotFound,
    InvalidApiKey,
    TooManyApiKeys,
    UserNotFound,
)
from contracts.api_keys import API_KEY_MARKER, ApiKeyScope
from contracts.rpc import ApiKeyCreated, ApiKeyInfo, ApiKeyOwner
from servicekit import UnitOfWork, utc_naive_now
from servicekit.logs import get_logger

__all__ = ["ApiKeys"]

log = get_logger(__name__)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None  # stored naive, UTC


def info(key: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=key.id,
        label=key.label,
        scope=key.scope,
        prefix=key.prefix,
        created_at=key.created_at.replace(tzinfo=UTC),
        last_used_at=_utc(key.last_used_at),
    )


class ApiKeys:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    async def create(self, user_id: UUID, label: str, scope: ApiKeyScope) -> ApiKeyCreated:
        made = new_api_key(user_id, label, scope, utc_naive_now())
        async with self._uow() as uow:
            # The user's row, locked: two creations at once cannot both pass the cap.
            if not await AccountRepository(uow.session).lock_user(user_id):
                raise UserNotFound("this account does not exist (any more)")
            keys = ApiKeyRepository(uow.session)
            if await keys.count_live(user_id) >= MAX_KEYS_PER_USER:
                raise TooManyApiKeys(
                    f"an account may hold {MAX_KEYS_PER_USER} keys; revoke one first",
                    limit=MAX_KEYS_PER_USER,
                )
            await keys.add(made.record)
            await uow.commit()
        log.info(
            "api_key.created", key_id=str(made.record.id), user_id=str(user_id), scope=scope.value
        )
        return ApiKeyCreated(**info(made.record).model_dump(), key=made.key)

    async def list_keys(self, user_id: UUID) -> list[ApiKeyInfo]:
        async with self._uow() as uow:
            return [info(key) for key in await ApiKeyRepository(uow.session).live(user_id)]

    async def revoke(self, user_id: UUID, key_id: UUID) -> None:
        async with self._uow() as uow:
            if not await ApiKeyRepository(uow.session).revoke(user_id, key_id, utc_naive_now()):
                raise ApiKeyNotFound("no such key")
            await uow.commit()
        log.info("api_key.revoked", key_id=str(key_id), user_id=str(user_id))

    async def verify(self, key: str) -> ApiKeyOwner:
        if not key.startswith(API_KEY_MARKER):
            raise InvalidApiKey("this API key is not valid")
        now = utc_naive_now()
        async with self._uow() as uow:
            keys = ApiKeyRepository(uow.session)
            found = await keys.live_by_hash(hash_api_key(key))
            if found is None:
                raise InvalidApiKey("this API key is not valid (or was revoked)")
            if use_worth_noting(found.last_used_at, now):
                await keys.note_use(found.id, now)
                await uow.commit()
        return ApiKeyOwner(key_id=found.id, user_id=found.user_id, scope=found.scope)
