"""Recording what expires when, from the events that create objects."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.mysql import insert

from contracts import AlignmentDone, FilesStored, JobCancelled
from janitor_service.adapters import submissions
from janitor_service.adapters.tables import cancelled_jobs, expirations
from servicekit import UnitOfWork, utc_naive_now

__all__ = ["cancel_job", "forget_user", "record_results", "record_stored_files"]


async def _upsert(uow: UnitOfWork, rows: list[dict[str, object]]) -> None:
    if rows:
        statement = insert(expirations).values(rows)
        await uow.session.execute(
            statement.on_duplicate_key_update(expires_at=statement.inserted.expires_at)
        )


async def cancel_job(event: JobCancelled, uow: UnitOfWork) -> None:
    """The owner deleted the job: all of it is due now."""
    now = utc_naive_now()
    await uow.session.execute(
        insert(cancelled_jobs)
        .prefix_with("IGNORE")
        .values(job_id=event.job_id, user_id=event.user_id, cancelled_at=now)
    )
    await uow.session.execute(
        expirations.update()
        .where(expirations.c.job_id == event.job_id, expirations.c.deleted_at.is_(None))
        .values(expires_at=now)
    )


async def _is_cancelled(job_id: UUID, uow: UnitOfWork) -> bool:
    found = await uow.session.execute(
        select(cancelled_jobs.c.job_id).where(cancelled_jobs.c.job_id == job_id)
    )
    return found.first() is not None


async def record_stored_files(event: FilesStored, uow: UnitOfWork) -> bool:
    """True when the job was deleted already: its files are due now."""
    cancelled = await _is_cancelled(event.job_id, uow)
    now = utc_naive_now()
    expiry = {
        f.corpus_file_id: now if cancelled else f.expires_at.replace(tzinfo=None)
        for f in event.files
    }
    rows: list[dict[str, object]] = []
    for f in event.files:
        common = {
            "user_id": event.user_id,
            "job_id": event.job_id,
            "corpus_file_id": f.corpus_file_id,
            "kind": "corpus",
            "expires_at": expiry[f.corpus_file_id],
        }
        rows.append(common | {"object_key": f.audio_key, "size_bytes": f.stored_bytes})
        rows.append(common | {"object_key": f.text_key, "size_bytes": 0})
    await _upsert(uow, rows)
    # Results recorded before their files (events may cross): align their expiry now.
    for f in event.files:
        await uow.session.execute(
            expirations.update()
            .where(expirations.c.corpus_file_id == f.corpus_file_id, expirations.c.kind == "result")
            .values(expires_at=expiry[f.corpus_file_id])
        )
    return cancelled


async def record_results(
    event: AlignmentDone, uow: UnitOfWork, default_retention: timedelta
) -> bool:
    """True when the job was deleted already: its results are due now."""
    cancelled = await _is_cancelled(event.job_id, uow)
    rows: list[dict[str, object]] = []
    for outcome in event.files:
        source_expiry = (
            await uow.session.execute(
                select(expirations.c.expires_at).where(
                    expirations.c.corpus_file_id == outcome.corpus_file_id,
                    expirations.c.kind == "corpus",
                )
            )
        ).scalar()
        expires = source_expiry or utc_naive_now() + default_retention
        if cancelled:
            expires = utc_naive_now()
        rows += [
            {
                "object_key": key,
                "user_id": event.user_id,
                "job_id": event.job_id,
                "corpus_file_id": outcome.corpus_file_id,
                "kind": "result",
                "size_bytes": 0,
                "expires_at": expires,
            }
            for key in outcome.result_keys.values()
        ]
    await _upsert(uow, rows)
    return cancelled


async def forget_user(user_id: UUID, uow: UnitOfWork) -> None:
    """storage deletes the objects; nothing of the user stays in the ledger."""
    await uow.session.execute(delete(cancelled_jobs).where(cancelled_jobs.c.user_id == user_id))
    await uow.session.execute(delete(expirations).where(expirations.c.user_id == user_id))
    await submissions.forget_user(uow.session, user_id)
