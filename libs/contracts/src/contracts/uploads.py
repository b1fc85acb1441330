"""Events about uploads that never became a job, published by the janitor."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from contracts.envelope import Event
from contracts.strings import ObjectKey

__all__ = ["UploadAbandoned"]


class UploadAbandoned(Event):
    """Parts were uploaded under ``incoming/{user_id}/{job_id}/`` but the job was never
    submitted (the gateway died mid-upload): the janitor deleted them. Auth releases the
    job's quota reservation; storage will never store the job, should its JobSubmitted
    still come."""

    EVENT_TYPE = "upload.abandoned"

    job_id: UUID
    user_id: UUID
    object_keys: list[ObjectKey] = Field(default_factory=list, description="what was deleted")
