from __future__ import annotations

from pathlib import Path
from typing import Self

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from gateway_service.api.rate_limits import RateLimitSettings
from servicekit import S3Settings, ServiceSettings
from servicekit.keys import is_published

__all__ = ["GatewaySettings"]


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
