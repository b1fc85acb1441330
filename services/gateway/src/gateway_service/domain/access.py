"""Who is asking, and what they may do: a login session may do everything its account may;
an API key may read, or read and write, and never manage keys or the account itself."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from uuid import UUID

from contracts.api_keys import ApiKeyErrorCode, ApiKeyScope

__all__ = ["Access", "AccessRefused", "Principal", "access_for_method", "check_access"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Access(IntEnum):
    """What a route needs, from least to most."""

    READ = 1  # see jobs, results, audio, quota
    WRITE = 2  # submit, delete, change jobs
    ACCOUNT = 3  # manage API keys, sessions, the password, delete the account


@dataclass(frozen=True)
class Principal:
    """The user a request acts for; ``session_id`` for a login's access token, ``key_id`` and
    ``scope`` for an API key."""

    user_id: UUID
    session_id: UUID | None = None
    key_id: UUID | None = None
    scope: ApiKeyScope | None = None

    @property
    def access(self) -> Access:
        if self.key_id is None:
            return Access.ACCOUNT
        return Access.WRITE if self.scope is ApiKeyScope.WRITE else Access.READ


@dataclass(frozen=True)
class AccessRefused:
    code: ApiKeyErrorCode
    message: str
    details: dict[str, str]


def access_for_method(method: str) -> Access:
    """By default a route that only reads needs READ, anything else WRITE."""
    return Access.READ if method.upper() in SAFE_METHODS else Access.WRITE


def check_access(principal: Principal, needed: Access) -> AccessRefused | None:
    """Why ``principal`` may not do what needs ``needed``, or None when it may."""
    if principal.access >= needed:
        return None
    if needed is Access.ACCOUNT:
        return AccessRefused(
            ApiKeyErrorCode.SESSION_REQUIRED,
            "API keys cannot do this; log in with your password",
            {},
        )
    scope = principal.scope.value if principal.scope else ""
    return AccessRefused(
        ApiKeyErrorCode.INSUFFICIENT_SCOPE,
        f"this API key's scope is {scope!r}; this needs a key with scope 'write'",
        {"scope": scope, "required": ApiKeyScope.WRITE.value},
    )
