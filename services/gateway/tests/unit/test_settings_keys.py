"""The gateway refuses to trust a published key: anyone could sign tokens it accepts."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import ValidationError

from gateway_service.settings import GatewaySettings

RFC8032_TEST_1 = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"


def public_pem(key: ed25519.Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(autouse=True)
def _db_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DB_URL", "mysql+aiomysql://gateway:pw@127.0.0.1/gateway")


PUBLISHED = public_pem(ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_TEST_1)))


def test_a_published_current_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_JWT_PUBLIC_KEY", PUBLISHED)
    with pytest.raises(ValidationError, match="'k1' belongs to a published signing key"):
        GatewaySettings()  # type: ignore[call-arg]


def test_a_published_retired_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_JWT_PUBLIC_KEY", public_pem(ed25519.Ed25519PrivateKey.generate()))
    monkeypatch.setenv("GATEWAY_JWT_RETIRED_PUBLIC_KEYS", json.dumps({"k0": PUBLISHED}))
    with pytest.raises(ValidationError, match="'k0' belongs to a published signing key"):
        GatewaySettings()  # type: ignore[call-arg]


def test_a_fresh_key_is_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = public_pem(ed25519.Ed25519PrivateKey.generate())
    monkeypatch.setenv("GATEWAY_JWT_PUBLIC_KEY", fresh)
    assert GatewaySettings().public_keys() == {"k1": fresh.encode()}  # type: ignore[call-arg]
