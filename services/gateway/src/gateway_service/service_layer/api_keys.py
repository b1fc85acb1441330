"""Whose an API key is: asked of auth (RPC), remembered for a few seconds.

The cache keeps a busy script from costing an RPC per request, and is short enough that a
revoked key (or the key of a deleted account) is refused within seconds by every gateway
(at once by the one that revoked it). Refusals are remembered as briefly, so a flood of
made-up keys costs auth one question per key per cache lifetime. Keys are held by their
SHA-256 only."""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from uuid import UUID

from contracts.api_keys import API_KEY_MARKER, ApiKeyErrorCode
from contracts.rpc import ApiKeyOwner, VerifyApiKey
from servicekit.rpc import RpcFailed

__all__ = ["ApiKeyRefused", "ApiKeyVerifier", "looks_like_api_key"]

KEY_SHAPE = re.compile(re.escape(API_KEY_MARKER) + r"[A-Za-z0-9_-]{43}")

Ask = Callable[[VerifyApiKey], Awaitable[ApiKeyOwner]]


class ApiKeyRefused(Exception):
    pass


def looks_like_api_key(credential: str) -> bool:
    """A key, not a JWT: a key starts with the marker (a JWT starts with ``eyJ``)."""
    return credential.startswith(API_KEY_MARKER)


class ApiKeyVerifier:
    def __init__(
        self,
        ask: Ask,
        max_age_seconds: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ask = ask
        self._max_age = max_age_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._known: OrderedDict[str, tuple[float, ApiKeyOwner | None]] = OrderedDict()

    async def owner(self, key: str, correlation_id: str = "-") -> ApiKeyOwner:
        """The key's owner and scope; raises ApiKeyRefused for a key auth does not know
        (or that was revoked), RpcUnavailable when auth does not answer."""
        if not KEY_SHAPE.fullmatch(key):
            raise ApiKeyRefused("this API key is not valid")
        digest = hashlib.sha256(key.encode()).hexdigest()
        found = self._known.get(digest)
        if found is not None and self._clock() - found[0] <= self._max_age:
            owner = found[1]
        else:
            owner = await self._verify(key, correlation_id)
            self._remember(digest, owner)
        if owner is None:
            raise ApiKeyRefused("this API key is not valid (or was revoked)")
        return owner

    async def _verify(self, key: str, correlation_id: str) -> ApiKeyOwner | None:
        try:
            return await self._ask(VerifyApiKey(key=key, correlation_id=correlation_id))
        except RpcFailed as exc:
            if exc.error.code == ApiKeyErrorCode.INVALID_API_KEY:
                return None
            raise

    def _remember(self, digest: str, owner: ApiKeyOwner | None) -> None:
        self._known[digest] = (self._clock(), owner)
        self._known.move_to_end(digest)
        while len(self._known) > self._max_keys:  # the least recently asked go first
            self._known.popitem(last=False)

    def forget_key(self, key_id: UUID) -> None:
        """A key revoked through this gateway is refused here at once."""
        for digest, (_, owner) in list(self._known.items()):
            if owner is not None and owner.key_id == key_id:
                del self._known[digest]
