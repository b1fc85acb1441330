from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from auth_service.domain.api_keys import (
    LAST_USED_RESOLUTION,
    hash_api_key,
    new_api_key,
    use_worth_noting,
)
from contracts.api_keys import API_KEY_PREFIX_LENGTH, ApiKeyScope
from contracts.rpc import ApiKeyCreated, VerifyApiKey

NOW = datetime(2026, 11, 30, 12, 0, 0)


def test_a_key_is_recognisable_random_and_kept_only_as_its_hash() -> None:
    made = new_api_key(uuid.uuid4(), "laptop", ApiKeyScope.READ, NOW)
    other = new_api_key(uuid.uuid4(), "laptop", ApiKeyScope.READ, NOW)
    assert re.fullmatch(r"fa_[A-Za-z0-9_-]{43}", made.key)
    assert made.key != other.key
    assert made.record.key_hash == hash_api_key(made.key)
    assert made.key not in made.record.key_hash
    assert made.record.prefix == made.key[:API_KEY_PREFIX_LENGTH]
    assert made.record.last_used_at is None and made.record.revoked_at is None


def test_use_is_noted_at_most_once_a_minute() -> None:
    assert use_worth_noting(None, NOW)
    assert not use_worth_noting(NOW - timedelta(seconds=59), NOW)
    assert use_worth_noting(NOW - LAST_USED_RESOLUTION, NOW)


def test_keys_stay_out_of_reprs() -> None:
    made = new_api_key(uuid.uuid4(), "ci", ApiKeyScope.WRITE, NOW)
    created = ApiKeyCreated(
        id=made.record.id,
        label="ci",
        scope=ApiKeyScope.WRITE,
        prefix=made.record.prefix,
        created_at=NOW,
        key=made.key,
    )
    assert made.key not in repr(created)
    assert made.key not in repr(VerifyApiKey(key=made.key))
