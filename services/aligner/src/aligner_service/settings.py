import os
import socket

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
    # English recordings at least this long are aligned twice, the second time by a model
    # adapted to their speaker (MLLR): better boundaries (words 18.4 -> 17.8 ms on 30 s
    # recordings) for 1.8 times the CPU. Off unless set (e.g. 20).
    adapt_min_seconds: float | None = Field(default=None, ge=5)
    # A file is attempted at most this often (a crash while aligning it counts; a lost
    # connection does not): one retry, then the file is FAILED.
    max_attempts: int = Field(default=2, ge=1, le=5)
    # How long one file's delivery may stay unacknowledged (the work queue's
    # x-consumer-timeout): the longest file allowed (3 h of audio) takes about 8 min at
    # RTF 0.045. RabbitMQ before 3.12 ignores it and keeps its own consumer_timeout (30 min).
    file_timeout_seconds: int = Field(default=3600, ge=60, le=24 * 3600)
    # Recorded with each file this replica aligns (devstack names its replicas).
    worker_name: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}"[:64], max_length=64
    )
    # A job that has waited this long jumps the plan priorities (aging; no job starves).
    # At most 25 min: RabbitMQ takes back a delivery unacknowledged for 30 min.
    promote_after_seconds: int = Field(default=300, ge=1, le=1500)
    # EnginesAnnounced: how often this replica tells the gateway what it can align; the
    # gateway counts an engine available while some replica announced it within 3 periods.
    announce_every_seconds: int = Field(default=30, ge=1, le=3600)
