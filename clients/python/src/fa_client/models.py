"""The API's shapes, as the service documents them (extra fields are kept, never required)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "FINISHED",
    "ApiKey",
    "FileOut",
    "Job",
    "JobList",
    "Limits",
    "Quota",
    "TokenPair",
    "Usage",
    "ValidationReport",
]

FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED", "EXPIRED"})
FILE_FINISHED = frozenset({"ALIGNED", "FAILED", "REJECTED", "EXPIRED"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class TokenPair(_Model):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_in: int | None = None


class FileOut(_Model):
    id: str
    audio_name: str
    text_name: str
    status: str
    duration: float | None = None
    error: str | None = None
    word_count: int | None = None
    oov_count: int | None = None

    @property
    def finished(self) -> bool:
        return self.status in FILE_FINISHED


class Job(_Model):
    id: str
    status: str
    progress: int
    created_at: datetime
    language: str | None = None
    engine: str | None = None
    files: list[FileOut] = []
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class JobList(_Model):
    items: list[Job]
    next_cursor: str | None = None


class Limits(_Model):
    subscription: str | None = None
    storage_bytes: int
    audio_minutes_per_month: int
    max_file_bytes: int
    max_files_per_job: int
    max_concurrent_jobs: int
    retention_days: int


class Usage(_Model):
    storage_bytes_used: int
    storage_bytes_reserved: int = 0
    audio_minutes_used: float
    concurrent_jobs: int


class Quota(_Model):
    subscription: str | None = None
    limits: Limits
    usage: Usage


class ValidationReport(_Model):
    text_name: str
    words_total: int
    oov: list[str]
    oov_guessed: list[str]
    oov_unpronounceable: list[str]
    ready: bool


class ApiKey(_Model):
    id: str
    name: str | None = None
    scope: str | None = None
    prefix: str | None = None
    key: str | None = None  # only when just created
    created_at: datetime | None = None
    last_used_at: datetime | None = None


def error_of(body: Any) -> tuple[str, str, Any]:
    """(code, message, details) of the service's error body, whatever came back."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return str(error.get("code", "error")), str(error.get("message", "")), error.get("details")
    return "error", str(body)[:300], None
