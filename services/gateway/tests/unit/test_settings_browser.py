"""Settings for browsers: CORS origins and the stream tokens' secret."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import ValidationError

from gateway_service.settings import GatewaySettings


@pytest.fixture(autouse=True)
def _required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DB_URL", "mysql+aiomysql://gateway:pw@127.0.0.1/gateway")
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    monkeypatch.setenv("GATEWAY_JWT_PUBLIC_KEY", pem.decode())


def test_no_cors_origin_by_default() -> None:
    assert GatewaySettings().cors_origins == []  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "value",
    [
        "https://app.example.org, http://localhost:5173",
        '["https://app.example.org", "http://localhost:5173"]',
    ],
)
def test_cors_origins_as_a_list_or_comma_separated(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", value)
    settings = GatewaySettings()  # type: ignore[call-arg]
    assert settings.cors_origins == ["https://app.example.org", "http://localhost:5173"]


def test_a_cors_origin_must_be_an_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", "app.example.org/path")
    with pytest.raises(ValidationError, match="not an origin"):
        GatewaySettings()  # type: ignore[call-arg]


def test_the_stream_secret_is_random_per_process_outside_production() -> None:
    settings = GatewaySettings()  # type: ignore[call-arg]
    assert len(settings.stream_secret()) == 32
    assert settings.stream_secret() == settings.stream_secret()
    assert GatewaySettings().stream_secret() != settings.stream_secret()  # type: ignore[call-arg]


def test_production_needs_a_long_enough_stream_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ENVIRONMENT", "production")
    monkeypatch.setenv("GATEWAY_AMQP_URL", "amqp://gateway:a-real-password@127.0.0.1:5672/")
    monkeypatch.setenv("GATEWAY_S3__SECRET_KEY", "a-real-s3-secret")
    with pytest.raises(ValidationError, match="GATEWAY_STREAM_TOKEN_SECRET must be set"):
        GatewaySettings()  # type: ignore[call-arg]
    monkeypatch.setenv("GATEWAY_STREAM_TOKEN_SECRET", "changeme")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        GatewaySettings()  # type: ignore[call-arg]
    monkeypatch.setenv("GATEWAY_STREAM_TOKEN_SECRET", "x" * 40)
    assert GatewaySettings().stream_secret() == b"x" * 40  # type: ignore[call-arg]
