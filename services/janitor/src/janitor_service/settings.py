from datetime import time

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit import S3Settings, ServiceSettings

__all__ = ["JanitorSettings"]


class JanitorSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="JANITOR_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8004
    s3: S3Settings = S3Settings()
    cleanup_at: time = Field(default=time(2, 0), description="daily cleanup time, UTC")
    # Results whose source files the janitor has not heard of yet keep this long.
    default_retention_days: int = Field(default=30, ge=1)
