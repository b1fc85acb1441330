"""Events published by the aligner while and after it works on a job."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.envelope import Event
from contracts.strings import EngineName, Message, ObjectKey

__all__ = [
    "AlignmentDone",
    "AlignmentOutcome",
    "AlignmentProgress",
    "AlignmentStarted",
    "FileOutcome",
]


class AlignmentOutcome(StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


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
