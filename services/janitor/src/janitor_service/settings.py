from datetime import time, timedelta

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
    # The sweep of incoming/ (uploads that never became a job): how often, and how old an
    # upload's newest part must be before it counts as abandoned. Keep the grace longer than
    # a whole upload may take (S3 may date a part by the start of its upload), and than the
    # janitor may lag behind the gateway's JobSubmitted.
    sweep_every_seconds: int = Field(default=600, ge=1)
    incoming_grace_seconds: int = Field(default=3600, ge=0)

    @property
    def sweep_every(self) -> timedelta:
        return timedelta(seconds=self.sweep_every_seconds)

    @property
    def incoming_grace(self) -> timedelta:
        return timedelta(seconds=self.incoming_grace_seconds)
