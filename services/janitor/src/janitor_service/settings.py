from pydantic_settings import SettingsConfigDict

from servicekit import S3Settings, ServiceSettings

__all__ = ["JanitorSettings"]


class JanitorSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="JANITOR_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8004
    s3: S3Settings = S3Settings()
