from pydantic_settings import SettingsConfigDict

from servicekit import S3Settings, ServiceSettings

__all__ = ["AlignerSettings"]


class AlignerSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ALIGNER_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8003
    s3: S3Settings = S3Settings()
