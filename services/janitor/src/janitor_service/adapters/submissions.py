"""The janitor's record of submitted jobs (``submitted_jobs``): the SQL, nothing more."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from janitor_service.adapters.tables import submitted_jobs
from janitor_service.domain.orphans import KnownJobs
from servicekit import utc_naive_now

__all__ = ["add_answered", "add_submitted", "forget_answered", "forget_user", "known_jobs"]

CHUNK = 500


async def add_submitted(session: AsyncSession, job_id: UUID, user_id: UUID) -> None:
    await session.execute(
        insert(submitted_jobs)
        .prefix_with("IGNORE")
        .values(job_id=job_id, user_id=user_id, recorded_at=utc_naive_now())
    )


async def add_answered(session: AsyncSession, job_id: UUID, user_id: UUID) -> None:
    """Storage answered the job (its answer may arrive before the JobSubmitted does)."""
    now = utc_naive_now()
    statement = insert(submitted_jobs).values(
        job_id=job_id, user_id=user_id, recorded_at=now, answered_at=now
    )
    await session.execute(
        statement.on_duplicate_key_update(answered_at=statement.inserted.answered_at)
    )


async def known_jobs(session: AsyncSession, job_ids: Iterable[UUID]) -> KnownJobs:
    """What the janitor knows of these jobs."""
    wanted = sorted(set(job_ids))
    submitted: set[UUID] = set()
    answered: set[UUID] = set()
    for start in range(0, len(wanted), CHUNK):
        rows = await session.execute(
            select(submitted_jobs.c.job_id, submitted_jobs.c.answered_at).where(
                submitted_jobs.c.job_id.in_(wanted[start : start + CHUNK])
            )
        )
        for job_id, answered_at in rows.all():
            submitted.add(job_id)
            if answered_at is not None:
                answered.add(job_id)
    return KnownJobs(frozenset(submitted), frozenset(answered))


async def forget_user(session: AsyncSession, user_id: UUID) -> None:
    await session.execute(delete(submitted_jobs).where(submitted_jobs.c.user_id == user_id))


async def forget_answered(session: AsyncSession, before: datetime) -> int:
    """Rows of jobs storage answered before ``before``: how many were deleted."""
    result = await session.execute(
        delete(submitted_jobs).where(submitted_jobs.c.answered_at < before)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
