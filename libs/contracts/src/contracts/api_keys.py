"""API keys: what their scopes are called and the codes auth refuses them with, named alike
by auth (which owns the keys) and the gateway (which checks them on every request)."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "API_KEY_LABEL_MAX_LENGTH",
    "API_KEY_MARKER",
    "API_KEY_PREFIX_LENGTH",
    "ApiKeyErrorCode",
    "ApiKeyScope",
]

API_KEY_MARKER = "fa_"
"""Every key starts with it: the gateway tells a key from a JWT (``eyJ...``) by it, and
secret scanners can recognise a leaked one."""
API_KEY_PREFIX_LENGTH = 11
"""What a key's owner sees of it in a listing: the marker and 8 characters (api_keys.prefix)."""
API_KEY_LABEL_MAX_LENGTH = 100  # api_keys.label (auth)


class ApiKeyScope(StrEnum):
    """``read``: every GET (jobs, results, audio, quota). ``write``: that, and submitting,
    deleting and any other change to jobs."""

    READ = "read"
    WRITE = "write"


class ApiKeyErrorCode(StrEnum):
    """auth's refusals over RPC (and the gateway's own, for requests made with a key)."""

    INVALID_API_KEY = "invalid_api_key"  # unknown, revoked, or its account deleted: 401
    API_KEY_NOT_FOUND = "api_key_not_found"  # revoking a key that is not yours: 404
    TOO_MANY_API_KEYS = "too_many_api_keys"  # the account holds the most it may: 409
    INSUFFICIENT_SCOPE = "insufficient_scope"  # a read key asked to change something: 403
    SESSION_REQUIRED = "session_required"  # keys and account changes need a login: 403
