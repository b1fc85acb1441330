"""Response shapes of /alignment (clients rely on these names: add, never rename)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from gateway_service.adapters.repository import FileRecord, JobRecord

__all__ = ["FileOut", "FilesOut", "JobList", "JobOut", "job_out"]


class FileOut(BaseModel):
    id: UUID
    audio_name: str
    text_name: str
    status: str
    duration: float | None
    error: str | None = None
    word_count: int | None = None
    oov_count: int | None = None
    low_quality: bool | None = None


class JobOut(BaseModel):
    id: UUID
    status: str
    progress: int
    created_at: datetime
    updated_at: datetime
    language: str
    engine: str | None
    options: dict[str, Any]
    files: list[FileOut]
    error: str | None


class FilesOut(BaseModel):
    items: list[FileOut]
    count: int


class JobDeleted(BaseModel):
    id: UUID
    status: Literal["DELETED"] = "DELETED"


class JobList(BaseModel):
    items: list[JobOut]
    next_cursor: str | None


def file_out(f: FileRecord) -> FileOut:
    return FileOut(
        id=f.id,
        audio_name=f.audio_name,
        text_name=f.text_name,
        status=f.status.value,
        duration=f.duration,
        error=f.error,
        word_count=f.word_count,
        oov_count=f.oov_count,
        low_quality=f.low_quality,
    )


def job_out(job: JobRecord) -> JobOut:
    return JobOut(
        id=job.id,
        status=job.status.value,
        progress=job.progress,
        created_at=job.created_at.replace(tzinfo=UTC),  # stored naive, always UTC
        updated_at=job.updated_at.replace(tzinfo=UTC),
        language=job.language,
        engine=job.engine,
        options=job.options,
        files=[file_out(f) for f in job.files],
        error=job.error,
    )
