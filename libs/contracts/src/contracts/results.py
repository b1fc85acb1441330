"""The alignment result of one corpus file: what the aligner writes and clients download
as JSON (times in seconds). Every other format is rendered from this model."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

__all__ = [
    "AlignedPhone",
    "AlignedWord",
    "AlignmentQuality",
    "AlignmentResult",
    "Pronunciation",
]


class AlignedWord(BaseModel):
    word: str = Field(description="as written in the transcript")
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    score: float | None = Field(
        default=None,
        description="the engine's own score, 0-1, if any (PocketSphinx: near 1 even for a wrong "
        "word; see confidence)",
    )
    confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="calibrated 0-1 confidence that the word was said here, from the acoustic "
        "evidence (goodness of pronunciation), if the engine gives one",
    )
    sentence: int = Field(default=0, ge=0, description="index of its sentence in the transcript")


class AlignedPhone(BaseModel):
    phone: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    word_index: int | None = Field(default=None, description="index into words")
    confidence: float | None = Field(
        default=None, ge=0, le=1, description="calibrated 0-1 confidence, if the engine gives one"
    )


class AlignmentQuality(BaseModel):
    words_total: int = Field(ge=0)
    words_aligned: int = Field(ge=0)
    aligned_share: float = Field(ge=0, le=1)
    suspicious_words: list[int] = Field(
        default_factory=list, description="indices of words with implausible durations"
    )
    low_confidence_words: list[int] = Field(
        default_factory=list,
        description="indices of words whose confidence is under 0.5: often where the "
        "transcript does not match the audio",
    )
    low_quality: bool = False
    notes: list[str] = Field(default_factory=list)


class Pronunciation(BaseModel):
    word: str = Field(description="as the dictionary holds it (lower case)")
    phones: list[str] = Field(description="the pronunciation used, e.g. ARPAbet for English")


class AlignmentResult(BaseModel):
    file_id: UUID
    audio_name: str
    text_name: str
    duration: float = Field(ge=0)
    engine: str
    language: str
    words: list[AlignedWord]
    phones: list[AlignedPhone]
    oov: list[str] = Field(
        default_factory=list,
        description="words not in the dictionary (aligned with a guessed pronunciation if any)",
    )
    quality: AlignmentQuality
    guessed: list[Pronunciation] = Field(
        default_factory=list,
        description="every word whose pronunciation was guessed (outside the engine's "
        "dictionary and the job's own), with the pronunciation used: correct it in a "
        "dictionary part and submit again",
    )
    from_job_dictionary: list[str] = Field(
        default_factory=list, description="words aligned with the job's own pronunciation"
    )
