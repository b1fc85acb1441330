"""Events about stored corpus files, published by storage and the janitor."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.envelope import Event
from contracts.strings import (
    EngineName,
    FileName,
    LanguageCode,
    Message,
    ObjectKey,
    Sha256Hex,
)

__all__ = ["FileExpired", "FileRejection", "FilesRejected", "FilesStored", "StoredFile"]


class StoredFile(BaseModel):
    """A validated pair in canonical form (16 kHz mono WAV + UTF-8 text)."""

    corpus_file_id: UUID = Field(description="the file_id given at submission")
    index: int = Field(ge=0)
    stem: FileName
    audio_name: FileName
    text_name: FileName
    audio_key: ObjectKey
    text_key: ObjectKey
    duration_seconds: float = Field(gt=0)
    stored_bytes: int = Field(ge=0)
    audio_sha256: Sha256Hex
    expires_at: datetime


class FileRejection(BaseModel):
    corpus_file_id: UUID
    index: int = Field(ge=0)
    audio_name: FileName
    text_name: FileName
    code: str = Field(description="stable machine-readable reason, e.g. audio_undecodable")
    reason: Message = Field(description="what the user can act on")


class FilesStored(Event):
    EVENT_TYPE = "files.stored"

    job_id: UUID
    user_id: UUID
    language: LanguageCode
    engine: EngineName | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=9)
    files: list[StoredFile]
    rejected: list[FileRejection] = Field(default_factory=list)
    total_bytes: int = Field(ge=0)


class FilesRejected(Event):
    """Every pair of a job failed validation; nothing was stored."""

    EVENT_TYPE = "files.rejected"

    job_id: UUID
    user_id: UUID
    rejected: list[FileRejection]


class FileExpired(Event):
    EVENT_TYPE = "file.expired"

    user_id: UUID
    job_id: UUID
    corpus_file_id: UUID | None = None
    object_keys: list[ObjectKey]
    bytes_freed: int = Field(ge=0)
