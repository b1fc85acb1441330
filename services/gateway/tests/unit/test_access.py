"""Who may do what: sessions, read keys and write keys; and the stream tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import jwt
import pytest

from contracts.api_keys import ApiKeyErrorCode, ApiKeyScope
from gateway_service.adapters.stream_tokens import (
    InvalidStreamToken,
    StreamTokenExpired,
    StreamTokens,
)
from gateway_service.domain.access import Access, Principal, access_for_method, check_access

SESSION = Principal(user_id=uuid4(), session_id=uuid4())
READ_KEY = Principal(user_id=uuid4(), key_id=uuid4(), scope=ApiKeyScope.READ)
WRITE_KEY = Principal(user_id=uuid4(), key_id=uuid4(), scope=ApiKeyScope.WRITE)
SECRET = b"s" * 32


def test_reads_need_read_and_everything_else_write() -> None:
    assert access_for_method("GET") is Access.READ
    assert access_for_method("head") is Access.READ
    for method in ("POST", "DELETE", "PUT", "PATCH"):
        assert access_for_method(method) is Access.WRITE


def test_a_session_may_do_anything() -> None:
    for needed in Access:
        assert check_access(SESSION, needed) is None


def test_a_read_key_reads_only() -> None:
    assert check_access(READ_KEY, Access.READ) is None
    refused = check_access(READ_KEY, Access.WRITE)
    assert refused is not None
    assert refused.code is ApiKeyErrorCode.INSUFFICIENT_SCOPE
    assert refused.details == {"scope": "read", "required": "write"}


def test_a_write_key_reads_and_writes_but_never_manages_keys_or_the_account() -> None:
    assert check_access(WRITE_KEY, Access.READ) is None
    assert check_access(WRITE_KEY, Access.WRITE) is None
    for key in (READ_KEY, WRITE_KEY):
        refused = check_access(key, Access.ACCOUNT)
        assert refused is not None
        assert refused.code is ApiKeyErrorCode.SESSION_REQUIRED


def test_a_stream_token_opens_its_job_for_its_user() -> None:
    tokens = StreamTokens(SECRET, timedelta(minutes=5))
    user, job = uuid4(), uuid4()
    issued = tokens.issue(user, job)
    assert tokens.verify(issued.token, job) == user
    assert timedelta(minutes=4) < issued.expires_at - datetime.now(UTC) <= timedelta(minutes=5)


def test_a_stream_token_is_refused_for_another_job_tampered_or_expired() -> None:
    tokens = StreamTokens(SECRET, timedelta(minutes=5))
    user, job = uuid4(), uuid4()
    token = tokens.issue(user, job).token
    with pytest.raises(InvalidStreamToken, match="another job"):
        tokens.verify(token, uuid4())
    head, body, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(InvalidStreamToken):
        tokens.verify(f"{head}.{body}.{flipped}", job)
    with pytest.raises(InvalidStreamToken):
        StreamTokens(b"o" * 32, timedelta(minutes=5)).verify(token, job)  # another secret
    old = tokens.issue(user, job, now=datetime.now(UTC) - timedelta(minutes=6)).token
    with pytest.raises(StreamTokenExpired):
        tokens.verify(old, job)
    for garbage in ("", "nope", "a.b.c"):
        with pytest.raises(InvalidStreamToken):
            tokens.verify(garbage, job)


def test_a_stream_token_signed_otherwise_is_refused() -> None:
    """An unsigned token, or one for another audience, is no stream token."""
    tokens = StreamTokens(SECRET, timedelta(minutes=5))
    user, job = uuid4(), uuid4()
    now = datetime.now(UTC)
    claims = {
        "iss": "alignment-gateway",
        "aud": "alignment-job-events",
        "sub": str(user),
        "job": str(job),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=1)).timestamp()),
    }
    with pytest.raises(InvalidStreamToken):
        tokens.verify(jwt.encode(claims, key=None, algorithm="none"), job)  # type: ignore[arg-type]
    with pytest.raises(InvalidStreamToken):
        tokens.verify(jwt.encode(claims | {"aud": "alignment-api"}, SECRET, "HS256"), job)
    assert tokens.verify(jwt.encode(claims, SECRET, "HS256"), job) == user


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        StreamTokens(b"short", timedelta(minutes=5))
