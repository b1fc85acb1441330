from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit import S3Settings, ServiceSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8000
    s3: S3Settings = S3Settings()
    jwt_public_key: SecretStr | None = Field(default=None, description="auth's public key, PEM")
    jwt_public_key_file: Path | None = None
    jwt_issuer: str = "alignment-auth"
    jwt_audience: str = "alignment-api"
    rpc_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    max_file_bytes: int = Field(default=500 * 2**20, gt=0)
    max_request_bytes: int = Field(default=4 * 2**30, gt=0)
    max_files_per_job: int = Field(default=1000, gt=0)

    @model_validator(mode="after")
    def _public_key_present(self) -> Self:
        self.public_key_pem()
        return self

    def public_key_pem(self) -> bytes:
        if self.jwt_public_key is not None:
            return self.jwt_public_key.get_secret_value().encode()
        if self.jwt_public_key_file is not None:
            return self.jwt_public_key_file.read_bytes()
        raise ValueError("GATEWAY_JWT_PUBLIC_KEY or GATEWAY_JWT_PUBLIC_KEY_FILE must be set")
