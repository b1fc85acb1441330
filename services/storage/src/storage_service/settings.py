from pydantic_settings import SettingsConfigDict

from servicekit import S3Settings, ServiceSettings

__all__ = ["StorageSettings"]


class StorageSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="STORAGE_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8002
    s3: S3Settings = S3Settings()
