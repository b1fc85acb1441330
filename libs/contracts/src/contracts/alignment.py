"""Events published by the aligner while and after it works on a job."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.envelope import Event
from contracts.files import StoredFile
from contracts.strings import EngineName, LanguageCode, Message, ObjectKey

__all__ = [
    "AlignmentDone",
    "AlignmentOutcome",
    "AlignmentProgress",
    "AlignmentStarted",
    "FileAlignmentQueued",
    "FileOutcome",
]


class AlignmentOutcome(StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class FileAlignmentQueued(Event):
    """One file of a job waits for an aligner: the unit of work that any replica takes
    (the aligner publishes it for itself when it plans a job; nobody else needs it)."""

    EVENT_TYPE = "alignment.file-queued"

    job_id: UUID
    user_id: UUID
    language: LanguageCode
    engine: EngineName | None = None
    options: dict[str, object] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=9)
    file: StoredFile
    files_total: int = Field(ge=1)


class AlignmentStarted(Event):
    EVENT_TYPE = "alignment.started"

    job_id: UUID
    user_id: UUID
    engine: EngineName
    attempt: int = Field(ge=1)
    file_count: int = Field(ge=0)


class AlignmentProgress(Event):
    EVENT_TYPE = "alignment.progress"

    job_id: UUID
    user_id: UUID
    corpus_file_id: UUID | None = None
    file_status: str | None = None
    files_done: int = Field(ge=0)
    files_total: int = Field(ge=0)
    percent: int = Field(ge=0, le=100)


class FileOutcome(BaseModel):
    corpus_file_id: UUID
    status: AlignmentOutcome
    result_keys: dict[str, ObjectKey] = Field(
        default_factory=dict, description="format name -> object key"
    )
    word_count: int = Field(default=0, ge=0)
    oov_count: int = Field(default=0, ge=0)
    low_quality: bool = False
    error: Message | None = None


class AlignmentDone(Event):
    EVENT_TYPE = "alignment.done"

    job_id: UUID
    user_id: UUID
    status: AlignmentOutcome
    engine: EngineName
    files: list[FileOutcome]
    error: Message | None = None
