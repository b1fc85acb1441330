"""Where a corpus file's objects live: computed from ids, never stored, never from names."""

from uuid import UUID

__all__ = ["audio_key", "text_key"]


def audio_key(user_id: UUID, job_id: UUID, file_id: UUID) -> str:
    return f"{user_id}/corpus/{job_id}/{file_id}.wav"


def text_key(user_id: UUID, job_id: UUID, file_id: UUID) -> str:
    return f"{user_id}/corpus/{job_id}/{file_id}.txt"
