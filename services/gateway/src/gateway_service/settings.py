from __future__ import annotations

import json
import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Self

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from gateway_service.adapters.stream_tokens import MIN_SECRET_BYTES
from gateway_service.api.rate_limits import RateLimitSettings
from servicekit import Environment, S3Settings, ServiceSettings
from servicekit.keys import is_published

__all__ = ["GatewaySettings"]

ORIGIN = re.compile(r"https?://[^/\s]+")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8000
    s3: S3Settings = S3Settings()
    jwt_public_key: SecretStr | None = Field(default=None, description="auth's public key, PEM")
    jwt_public_key_file: Path | None = None
    jwt_key_id: str = Field(default="k1", description="the kid auth signs with now")
    jwt_retired_public_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="kid -> PEM of keys auth signed with before; accepted until removed",
    )
    jwt_issuer: str = "alignment-auth"
    jwt_audience: str = "alignment-api"
    rpc_timeout_seconds: float = Field(default=2.5, gt=0, le=30)
    max_file_bytes: int = Field(default=500 * 2**20, gt=0)
    max_request_bytes: int = Field(default=4 * 2**30, gt=0)
    max_files_per_job: int = Field(default=1000, gt=0)
    max_corpus_bytes: int = Field(
        default=4 * 2**30, gt=0, description="a corpus zip, and all its files uncompressed"
    )
    max_corpus_entries: int = Field(default=10_000, gt=0, description="in a corpus zip")
    max_compression_ratio: float = Field(
        default=200.0, ge=1, description="uncompressed / compressed, per zip entry and in all"
    )
    rate_limits: RateLimitSettings = RateLimitSettings()
    busy_retry_after_seconds: int = Field(default=30, ge=1, description="429 on job limits")
    quota_report_max_age_seconds: float = Field(
        default=5.0,
        ge=0,
        description="how long auth's last quota report may let a user start an upload "
        "without asking again (auth's reservation decides in the end); 0 asks every time",
    )

    engine_catalog_max_age_seconds: float = Field(
        default=2.0,
        ge=0,
        description="how old the copy of the aligners' announced engines that submits are "
        "checked against (and /languages, /engines answer from) may be",
    )

    api_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="how long an API key's owner (or refusal) is remembered: a revoked key "
        "is refused by every gateway within this long; 0 asks auth on every request",
    )
    stream_token_secret: SecretStr | None = Field(
        default=None,
        description=f"HMAC key (at least {MIN_SECRET_BYTES} bytes) of the job stream tokens; "
        "the same on every gateway replica. Outside production a random one per process "
        "is used when unset",
    )
    stream_token_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins browsers may call the API from (CORS), comma-separated or a "
        "JSON list, e.g. https://app.example.org; none by default",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
        return origins

    @model_validator(mode="after")
    def _stream_secret_usable(self) -> Self:
        self.stream_secret()
        return self

    @cached_property
    def _random_stream_secret(self) -> bytes:
        return secrets.token_bytes(32)

    def stream_secret(self) -> bytes:
        """The stream tokens' HMAC key: set, long enough; or, outside production, random."""
        if self.stream_token_secret is None or not self.stream_token_secret.get_secret_value():
            if self.environment is Environment.PRODUCTION:
                raise ValueError("GATEWAY_STREAM_TOKEN_SECRET must be set in production")
            return self._random_stream_secret
        secret = self.stream_token_secret.get_secret_value().encode()
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"GATEWAY_STREAM_TOKEN_SECRET must have at least {MIN_SECRET_BYTES} bytes"
            )
        return secret

    @model_validator(mode="after")
    def _public_key_present(self) -> Self:
        self.public_keys()  # present, readable, and not a published key's
        return self

    def public_keys(self) -> dict[str, bytes]:
        """Every key tokens are verified with, by kid; a published key is refused (anyone
        could sign with its private half)."""
        retired = {
            k: v.get_secret_value().encode() for k, v in self.jwt_retired_public_keys.items()
        }
        keys = retired | {self.jwt_key_id: self.public_key_pem()}
        for kid, pem in keys.items():
            if is_published(load_pem_public_key(pem)):
                raise ValueError(f"the public key {kid!r} belongs to a published signing key")
        return keys

    def public_key_pem(self) -> bytes:
        if self.jwt_public_key is not None:
            return self.jwt_public_key.get_secret_value().encode()
        if self.jwt_public_key_file is not None:
            return self.jwt_public_key_file.read_bytes()
        raise ValueError("GATEWAY_JWT_PUBLIC_KEY or GATEWAY_JWT_PUBLIC_KEY_FILE must be set")
