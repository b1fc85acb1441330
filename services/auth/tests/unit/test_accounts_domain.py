from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from pydantic import ValidationError

from auth_service.domain.model import normalize_email
from auth_service.domain.passwords import Passwords
from auth_service.domain.tokens import TokenIssuer, hash_refresh_token
from auth_service.settings import AuthSettings


def pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def issuer(key: ed25519.Ed25519PrivateKey) -> TokenIssuer:
    return TokenIssuer(
        pem(key),
        key_id="k1",
        issuer="alignment-auth",
        audience="alignment-api",
        access_ttl=timedelta(minutes=15),
        refresh_ttl=timedelta(days=30),
    )


def test_emails_compare_case_insensitively() -> None:
    assert normalize_email("  Ann.Lee@Example.ORG ") == "ann.lee@example.org"


async def test_passwords_verify_only_the_right_password() -> None:
    passwords = Passwords()
    stored = await passwords.hash("correct horse")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert await passwords.verify(stored, "correct horse")
    assert not await passwords.verify(stored, "Correct horse")
    assert not await passwords.verify(None, "correct horse")  # unknown user
    assert not await passwords.verify("not a hash", "correct horse")


def test_access_tokens_carry_the_claims_and_verify_with_the_public_key() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    user_id = uuid.uuid4()
    now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as stored
    session_id = uuid.uuid4()
    token = issuer(key).access_token(user_id, session_id, now)
    assert jwt.get_unverified_header(token)["kid"] == "k1"
    claims = jwt.decode(
        token,
        key.public_key(),
        algorithms=["EdDSA"],
        audience="alignment-api",
        issuer="alignment-auth",
    )
    assert claims["sub"] == str(user_id)
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - datetime.now(UTC).timestamp()) < 5  # naive 'now' read as UTC
    assert claims["jti"]
    assert claims["sid"] == str(session_id)


def test_refresh_tokens_are_random_and_stored_only_hashed() -> None:
    tokens = issuer(ed25519.Ed25519PrivateKey.generate())
    now = datetime(2026, 1, 1)
    first, second = tokens.refresh_token(now), tokens.refresh_token(now)
    assert first.token != second.token and len(first.token) >= 40
    assert first.token_hash == hash_refresh_token(first.token) != first.token
    assert first.expires_at == now + timedelta(days=30)


def test_settings_refuse_to_start_without_a_usable_signing_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_DB_URL", "mysql+aiomysql://auth:pw@127.0.0.1/auth")
    with pytest.raises(ValidationError, match="must be set"):
        AuthSettings()  # type: ignore[call-arg]
    monkeypatch.setenv(
        "AUTH_JWT_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"
    )
    with pytest.raises((ValidationError, ValueError)):
        AuthSettings()  # type: ignore[call-arg]
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    monkeypatch.setenv("AUTH_JWT_PRIVATE_KEY", pem(weak).decode())
    with pytest.raises(ValidationError, match="at least 2048 bits"):
        AuthSettings()  # type: ignore[call-arg]
    monkeypatch.setenv("AUTH_JWT_PRIVATE_KEY", pem(ed25519.Ed25519PrivateKey.generate()).decode())
    assert AuthSettings().jwt_key_id == "k1"  # type: ignore[call-arg]


def test_production_refuses_default_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_JWT_PRIVATE_KEY", pem(ed25519.Ed25519PrivateKey.generate()).decode())
    monkeypatch.setenv("AUTH_ENVIRONMENT", "production")
    monkeypatch.setenv("AUTH_DB_URL", "mysql+aiomysql://auth:s3cure-Pa55@db/auth")
    monkeypatch.setenv("AUTH_AMQP_URL", "amqp://guest:guest@mq:5672/")
    with pytest.raises(ValidationError, match="amqp_url uses a default"):
        AuthSettings()  # type: ignore[call-arg]
    monkeypatch.setenv("AUTH_AMQP_URL", "amqp://svc:l0ng-Random@mq:5672/")
    assert AuthSettings().environment == "production"  # type: ignore[call-arg]
