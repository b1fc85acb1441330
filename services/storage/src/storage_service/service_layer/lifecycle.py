"""What happens to stored files after ingest (expiry, account deletion), and to uploads the
janitor found abandoned. (A job's deletion stops its ingest: ``ingest.Ingest.cancel``.)"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, insert, select, update

from contracts import FileExpired, UploadAbandoned
from servicekit import UnitOfWork, utc_naive_now
from servicekit.objects import Objects
from storage_service.adapters.ingests import SqlIngestRuns
from storage_service.adapters.tables import (
    abandoned_uploads,
    cancelled_jobs,
    corpus_files,
    file_storage_metadata,
)

__all__ = ["abandon_upload", "forget_user", "mark_expired"]


async def mark_expired(event: FileExpired, uow: UnitOfWork) -> None:
    """The janitor deleted the objects: the files are gone, their facts stay for audits."""
    if event.corpus_file_id is None:
        return
    now = utc_naive_now()
    await uow.session.execute(
        update(corpus_files)
        .where(corpus_files.c.id == event.corpus_file_id, corpus_files.c.status != "GONE")
        .values(status="GONE", gone_at=now)
    )
    await uow.session.execute(
        update(file_storage_metadata)
        .where(
            file_storage_metadata.c.corpus_file_id == event.corpus_file_id,
            file_storage_metadata.c.deleted_at.is_(None),
        )
        .values(deleted_at=now)
    )


async def abandon_upload(event: UploadAbandoned, uow: UnitOfWork) -> None:
    """The janitor deleted an upload that never became a job: a JobSubmitted for it that
    still comes (however late) is refused rather than stored from what is left."""
    await uow.session.execute(
        insert(abandoned_uploads)
        .prefix_with("IGNORE")
        .values(job_id=event.job_id, user_id=event.user_id, abandoned_at=utc_naive_now())
    )


async def forget_user(user_id: UUID, uow: UnitOfWork, objects: Objects) -> None:
    """Account deletion: every row and every object of the user (a pair still being
    stored finds its job gone and deletes what it wrote)."""
    await SqlIngestRuns(uow.session).forget_user(user_id)
    await uow.session.execute(delete(cancelled_jobs).where(cancelled_jobs.c.user_id == user_id))
    await uow.session.execute(
        delete(abandoned_uploads).where(abandoned_uploads.c.user_id == user_id)
    )
    ids = select(corpus_files.c.id).where(corpus_files.c.user_id == user_id)
    await uow.session.execute(
        delete(file_storage_metadata).where(file_storage_metadata.c.corpus_file_id.in_(ids))
    )
    await uow.session.execute(delete(corpus_files).where(corpus_files.c.user_id == user_id))

    async def delete_objects() -> None:
        await objects.delete_prefix(f"{user_id}/")
        await objects.delete_prefix(f"incoming/{user_id}/")

    uow.after_commit(delete_objects)
