from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit import S3Settings, ServiceSettings

__all__ = ["AlignerSettings"]


class AlignerSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ALIGNER_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8003
    s3: S3Settings = S3Settings()
    default_engine: str = "pocketsphinx"
    mfa_command: str = "mfa"
    # A job is attempted at most this often (a crash mid-job counts): one retry, then FAILED.
    max_attempts: int = Field(default=2, ge=1, le=5)
    # A job that has waited this long jumps the plan priorities (aging; no job starves).
    # At most 25 min: RabbitMQ takes back a delivery unacknowledged for 30 min.
    promote_after_seconds: int = Field(default=300, ge=1, le=1500)
