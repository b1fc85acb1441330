"""Storage's own work items: the pairs of a submitted job, each waiting to be stored."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from contracts.envelope import Event
from contracts.jobs import SubmittedPair

__all__ = ["PairIngestQueued"]


class PairIngestQueued(Event):
    """One pair of a submitted job waits to be checked, converted and stored: the unit of
    work any storage replica takes (storage publishes it for itself when it plans a job's
    ingest; nobody else needs it)."""

    EVENT_TYPE = "ingest.pair-queued"

    job_id: UUID
    user_id: UUID
    pair: SubmittedPair
    expires_at: datetime = Field(description="when the stored files expire (the job's retention)")
    priority: int = Field(default=0, ge=0, le=9)
    pairs_total: int = Field(ge=1)
