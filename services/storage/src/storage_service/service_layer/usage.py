"""What storage holds for a user, as counted from its own tables: the facts auth rebuilds a
user's usage from (``auth recalculate-usage``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select

from contracts.rpc import CountStoredUsage, StoredUsage
from servicekit import UnitOfWork
from storage_service.adapters.tables import corpus_files, file_storage_metadata

__all__ = ["count_stored_usage"]


def month_bounds(month: str) -> tuple[datetime, datetime]:
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1)
    return start, datetime(year + number // 12, number % 12 + 1, 1)


async def count_stored_usage(
    request: CountStoredUsage, unit_of_work: Callable[[], UnitOfWork]
) -> StoredUsage:
    """Bytes of every object not yet deleted (audio and transcript, as auth settles them from
    FilesStored) and seconds of audio stored during the month (deleted since or not, as
    minutes are counted when a file is stored)."""
    start, end = month_bounds(request.month)
    async with unit_of_work() as uow:
        stored = (
            await uow.session.execute(
                select(
                    func.coalesce(func.sum(file_storage_metadata.c.size_bytes), 0),
                    func.count(func.distinct(corpus_files.c.id)),
                )
                .select_from(file_storage_metadata)
                .join(corpus_files, corpus_files.c.id == file_storage_metadata.c.corpus_file_id)
                .where(
                    corpus_files.c.user_id == request.user_id,
                    file_storage_metadata.c.deleted_at.is_(None),
                )
            )
        ).one()
        seconds = (
            await uow.session.execute(
                select(func.coalesce(func.sum(corpus_files.c.duration_seconds), 0.0)).where(
                    corpus_files.c.user_id == request.user_id,
                    corpus_files.c.created_at >= start,
                    corpus_files.c.created_at < end,
                )
            )
        ).scalar_one()
    return StoredUsage(
        user_id=request.user_id,
        month=request.month,
        stored_bytes=int(stored[0]),
        files=int(stored[1]),
        audio_seconds=float(seconds),
    )
