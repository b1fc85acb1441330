"""API keys, as plain Python: how one is made, what is kept of it, when its use is noted."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from contracts.api_keys import API_KEY_MARKER, API_KEY_PREFIX_LENGTH, ApiKeyScope

__all__ = [
    "LAST_USED_RESOLUTION",
    "MAX_KEYS_PER_USER",
    "ApiKey",
    "NewApiKey",
    "hash_api_key",
    "new_api_key",
    "use_worth_noting",
]

# Enough for every script and machine of one person; a cap keeps a runaway loop in check.
MAX_KEYS_PER_USER = 100
# last_used_at is written at most this often per key: a busy script costs no write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_api_key(key: str) -> str:
    """What is stored and looked up. A key is 256 random bits: nothing to guess, so a fast
    hash is as good as a slow password hash (argon2 would cost ~50 ms per check for no gain).
    """
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class ApiKey:
    id: UUID
    user_id: UUID
    label: str
    scope: ApiKeyScope
    prefix: str
    key_hash: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class NewApiKey:
    key: str  # given to its owner once, never stored
    record: ApiKey


def new_api_key(user_id: UUID, label: str, scope: ApiKeyScope, now: datetime) -> NewApiKey:
    key = API_KEY_MARKER + secrets.token_urlsafe(32)  # 256 bits, 43 URL-safe characters
    record = ApiKey(
        id=uuid4(),
        user_id=user_id,
        label=label,
        scope=scope,
        prefix=key[:API_KEY_PREFIX_LENGTH],
        key_hash=hash_api_key(key),
        created_at=now,
    )
    return NewApiKey(key, record)


def use_worth_noting(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a use at ``now`` should be written as the key's ``last_used_at``."""
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION
