"""Job lifecycle events published by the gateway."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.envelope import Event
from contracts.strings import EngineName, FileName, LanguageCode, ObjectKey

__all__ = [
    "DICTIONARY_WORDS_OPTION",
    "PRONUNCIATIONS_OPTION",
    "TRANSCRIPT_FORMATS",
    "TRANSCRIPT_FORMAT_OPTION",
    "VALIDATE_OPTION",
    "JobCancelled",
    "JobSubmitted",
    "SubmittedPair",
]

# Options of a job that more than one service reads (JobSubmitted.options, carried on in
# FilesStored and FileAlignmentQueued):
# options[VALIDATE_OPTION] is True: check the transcripts only, align nothing (and charge
# no minutes for it).
VALIDATE_OPTION = "validate"
# options[DICTIONARY_WORDS_OPTION]: how many pronunciations the job brought (see below).
DICTIONARY_WORDS_OPTION = "dictionary_words"

# options[PRONUNCIATIONS_OPTION]: the job's own pronunciations, {word: [phone, ...]} (words
# in lower case, ARPAbet phones without stress for English), from the submit's dictionary
# part; they extend or override the engine's dictionary for this job only. Carried with the
# job's options through storage to the aligner, which keeps them once per job.
PRONUNCIATIONS_OPTION = "pronunciations"

# options[TRANSCRIPT_FORMAT_OPTION]: "text" (the default) or "ipa": the transcripts are IPA,
# words separated by white space (read by the espeak-phones engine).
TRANSCRIPT_FORMAT_OPTION = "transcript_format"
TRANSCRIPT_FORMATS = ("text", "ipa")


class SubmittedPair(BaseModel):
    """One audio + transcript pair as uploaded, still under ``incoming/``."""

    file_id: UUID = Field(description="the corpus file's id, chosen at submission")
    index: int = Field(ge=0, description="position of the pair in the request")
    stem: FileName
    audio_name: FileName
    audio_key: ObjectKey
    audio_bytes: int = Field(ge=0)
    text_name: FileName
    text_key: ObjectKey
    text_bytes: int = Field(ge=0)


class JobSubmitted(Event):
    EVENT_TYPE = "job.submitted"

    job_id: UUID
    user_id: UUID
    language: LanguageCode = "en"
    engine: EngineName | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=9)
    retention_days: int | None = Field(
        default=None, ge=1, description="the user's plan's; storage's default when absent"
    )
    pairs: list[SubmittedPair]


class JobCancelled(Event):
    EVENT_TYPE = "job.cancelled"

    job_id: UUID
    user_id: UUID
    reason: str = "cancelled by user"
