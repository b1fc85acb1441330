import os
import socket

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit import S3Settings, ServiceSettings

__all__ = ["StorageSettings"]


class StorageSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="STORAGE_", env_nested_delimiter="__", extra="ignore"
    )

    http_port: int = 8002
    s3: S3Settings = S3Settings()
    ffmpeg: str = "ffmpeg"
    retention_days: int = Field(default=30, ge=1, le=3650)
    max_audio_seconds: float = Field(default=3 * 3600, gt=0)
    max_text_bytes: int = Field(default=2_000_000, gt=0)
    max_text_lines: int = Field(default=200_000, gt=0)
    max_text_line_chars: int = Field(default=20_000, gt=0)
    # A pair is attempted at most this often (a crash while storing it counts; a lost
    # connection does not): one retry, then the pair is rejected (storage_error).
    max_attempts: int = Field(default=2, ge=1, le=5)
    # How long one pair's delivery may stay unacknowledged (the work queue's
    # x-consumer-timeout): ffmpeg alone may take 30 min (AudioConverter's timeout), plus the
    # transfers of a file of up to 4 GiB. RabbitMQ before 3.12 ignores it and keeps its own
    # consumer_timeout (30 min).
    pair_timeout_seconds: int = Field(default=3600, ge=60, le=24 * 3600)
    # Pairs one replica checks and converts at once (one ffmpeg each): about its cores.
    pairs_at_once: int = Field(default=2, ge=1, le=32)
    # Recorded with each pair this replica stores.
    worker_name: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}"[:64], max_length=64
    )
