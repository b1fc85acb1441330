"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from enum import StrEnum
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

__all__ = ["Environment", "S3Settings", "ServiceSettings"]

# Secrets that appear in examples and docs; refused outside development.
KNOWN_DEFAULT_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "password", "guest", "minioadmin", "root"}
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class S3Settings(BaseModel):
    endpoint: str = "127.0.0.1:8333"
    access_key: str = ""
    secret_key: SecretStr = SecretStr("")
    bucket: str = "alignment"
    secure: bool = False
    region: str = "us-east-1"


class ServiceSettings(BaseSettings):
    """Nested values use ``__``: ``STORAGE_S3__ENDPOINT=127.0.0.1:8333``."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    db_url: SecretStr = Field(description="mysql+aiomysql://user:password@host:3306/schema")
    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    # Prefixes exchange and queue names so that test runs never touch a live system's queues.
    namespace: str = Field(default="", pattern=r"^[a-z0-9-]*$", max_length=32)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=0, ge=0, le=65535)
    log_level: str = "INFO"
    log_file: str | None = None
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # Consumed events' inbox rows are deleted after this long (servicekit.retention says
    # why that is safe); far longer than any redelivery can take.
    inbox_retention_days: int = Field(default=14, ge=1, le=3650)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            for name, value in self.secret_values().items():
                if value.lower() in KNOWN_DEFAULT_SECRETS:
                    raise ValueError(f"{name} uses a default or empty secret in production")
        return self

    def secret_values(self) -> dict[str, str]:
        """Passwords inside URLs and keys, by setting name (for the default-secret check)."""
        values = {
            "db_url": make_url(self.db_url.get_secret_value()).password or "",
            "amqp_url": _amqp_password(self.amqp_url.get_secret_value()),
        }
        s3 = getattr(self, "s3", None)
        if isinstance(s3, S3Settings):
            values["s3.secret_key"] = s3.secret_key.get_secret_value()
        return values


def _amqp_password(url: str) -> str:
    return urlsplit(url).password or ""
