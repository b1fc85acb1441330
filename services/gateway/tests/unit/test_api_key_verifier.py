"""The gateway's memory of API keys: a few seconds, refusals included, never the key."""

from __future__ import annotations

from uuid import uuid4

import pytest

from contracts.api_keys import ApiKeyErrorCode, ApiKeyScope
from contracts.rpc import ApiKeyOwner, RpcError, VerifyApiKey
from gateway_service.service_layer.api_keys import (
    ApiKeyRefused,
    ApiKeyVerifier,
    looks_like_api_key,
)
from servicekit.rpc import RpcFailed, RpcUnavailable

KEY = "fa_" + "k" * 43
OTHER = "fa_" + "o" * 43


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeAuth:
    """Answers VerifyApiKey as auth would, from the keys it holds."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKeyOwner] = {}
        self.asked: list[VerifyApiKey] = []
        self.down = False

    async def __call__(self, request: VerifyApiKey) -> ApiKeyOwner:
        self.asked.append(request)
        if self.down:
            raise RpcUnavailable("no answer")
        owner = self.keys.get(request.key)
        if owner is None:
            raise RpcFailed(RpcError(code=ApiKeyErrorCode.INVALID_API_KEY, message="no"))
        return owner


def owner(scope: ApiKeyScope = ApiKeyScope.READ) -> ApiKeyOwner:
    return ApiKeyOwner(key_id=uuid4(), user_id=uuid4(), scope=scope)


def test_keys_are_told_from_jwts_by_their_marker() -> None:
    assert looks_like_api_key(KEY)
    assert not looks_like_api_key("eyJhbGciOiJFZERTQSJ9.e30.sig")


async def test_an_owner_is_remembered_for_the_cache_lifetime_then_asked_again() -> None:
    auth, clock = FakeAuth(), Clock()
    auth.keys[KEY] = found = owner()
    verifier = ApiKeyVerifier(auth, max_age_seconds=5, clock=clock)
    assert await verifier.owner(KEY) == found
    clock.now += 5
    assert await verifier.owner(KEY) == found
    assert len(auth.asked) == 1
    del auth.keys[KEY]  # revoked by another gateway
    clock.now += 0.5
    with pytest.raises(ApiKeyRefused):
        await verifier.owner(KEY)
    assert len(auth.asked) == 2


async def test_refusals_are_remembered_as_briefly() -> None:
    auth, clock = FakeAuth(), Clock()
    verifier = ApiKeyVerifier(auth, max_age_seconds=5, clock=clock)
    for _ in range(3):
        with pytest.raises(ApiKeyRefused):
            await verifier.owner(OTHER)
    assert len(auth.asked) == 1
    auth.keys[OTHER] = found = owner()
    clock.now += 6
    assert await verifier.owner(OTHER) == found


async def test_a_malformed_key_costs_no_question() -> None:
    auth = FakeAuth()
    verifier = ApiKeyVerifier(auth, max_age_seconds=5)
    for bad in ("fa_short", "fa_" + "k" * 44, "fa_" + "!" * 43, "x" * 46):
        with pytest.raises(ApiKeyRefused):
            await verifier.owner(bad)
    assert auth.asked == []


async def test_a_key_revoked_here_is_refused_here_at_once() -> None:
    auth, clock = FakeAuth(), Clock()
    auth.keys[KEY] = found = owner(ApiKeyScope.WRITE)
    verifier = ApiKeyVerifier(auth, max_age_seconds=5, clock=clock)
    await verifier.owner(KEY)
    del auth.keys[KEY]
    verifier.forget_key(found.key_id)
    with pytest.raises(ApiKeyRefused):
        await verifier.owner(KEY)


async def test_auth_away_is_not_a_refusal_and_is_not_remembered() -> None:
    auth, clock = FakeAuth(), Clock()
    auth.keys[KEY] = found = owner()
    auth.down = True
    verifier = ApiKeyVerifier(auth, max_age_seconds=5, clock=clock)
    with pytest.raises(RpcUnavailable):
        await verifier.owner(KEY)
    auth.down = False
    assert await verifier.owner(KEY) == found


async def test_the_memory_is_bounded() -> None:
    auth = FakeAuth()
    keys = [f"fa_{i:043d}" for i in range(5)]
    for key in keys:
        auth.keys[key] = owner()
    verifier = ApiKeyVerifier(auth, max_age_seconds=60, max_keys=3)
    for key in keys:
        await verifier.owner(key)
    await verifier.owner(keys[0])  # forgotten: asked again
    assert len(auth.asked) == 6
    assert not any(k.startswith("fa_") for k in verifier._known)  # only digests are kept
