"""Deleting what has expired: objects first, then the ledger row and FileExpired together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy import insert, select, update

from contracts import FileExpired
from janitor_service.adapters.tables import cleanup_runs, expirations
from servicekit import UnitOfWork, get_logger, utc_naive_now
from servicekit.objects import Objects

__all__ = ["CleanupReport", "expire_job", "run_cleanup"]

log = get_logger(__name__)
BATCH = 500


@dataclass
class ExpiredFile:
    user_id: UUID
    job_id: UUID
    corpus_file_id: UUID
    object_keys: list[str] = field(default_factory=list)
    size_bytes: int = 0


@dataclass
class CleanupReport:
    dry_run: bool
    clock: datetime
    files: list[ExpiredFile] = field(default_factory=list)

    @property
    def objects(self) -> int:
        return sum(len(f.object_keys) for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)


async def _due(uow: UnitOfWork, now: datetime, job_id: UUID | None = None) -> list[ExpiredFile]:
    query = select(expirations).where(
        expirations.c.deleted_at.is_(None), expirations.c.expires_at <= now
    )
    if job_id is not None:
        query = query.where(expirations.c.job_id == job_id)
    rows = await uow.session.execute(query.order_by(expirations.c.expires_at).limit(BATCH))
    grouped: dict[UUID, ExpiredFile] = {}
    for row in rows.all():
        item = grouped.setdefault(
            row.corpus_file_id, ExpiredFile(row.user_id, row.job_id, row.corpus_file_id)
        )
        item.object_keys.append(row.object_key)
        item.size_bytes += row.size_bytes
    return list(grouped.values())


async def run_cleanup(
    unit_of_work: Callable[[], UnitOfWork],
    objects: Objects,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> CleanupReport:
    clock = now or utc_naive_now()
    report = CleanupReport(dry_run=dry_run, clock=clock)
    async with unit_of_work() as uow:
        run_id = (
            await uow.session.execute(
                insert(cleanup_runs).values(
                    started_at=utc_naive_now(), dry_run=dry_run, clock=clock
                )
            )
        ).inserted_primary_key[0]  # type: ignore[attr-defined]
        await uow.commit()
    while True:
        async with unit_of_work() as uow:
            due = await _due(uow, clock)
        fresh = [f for f in due if f.corpus_file_id not in {r.corpus_file_id for r in report.files}]
        if not fresh:
            break
        report.files += fresh
        if dry_run:
            continue
        for item in fresh:
            await _expire(unit_of_work, objects, item)
    async with unit_of_work() as uow:
        await uow.session.execute(
            update(cleanup_runs)
            .where(cleanup_runs.c.id == run_id)
            .values(
                finished_at=utc_naive_now(),
                files_expired=len(report.files),
                objects_deleted=0 if dry_run else report.objects,
                bytes_freed=0 if dry_run else report.bytes,
            )
        )
        await uow.commit()
    log.info("cleanup.finished", dry_run=dry_run, files=len(report.files), objects=report.objects)
    return report


async def expire_job(unit_of_work: Callable[[], UnitOfWork], objects: Objects, job_id: UUID) -> int:
    """What is due of one job, now: a deleted job's files and results (what this misses,
    the daily run deletes). The number of files expired."""
    expired = 0
    while True:
        async with unit_of_work() as uow:
            due = await _due(uow, utc_naive_now(), job_id)
        if not due:
            return expired
        for item in due:
            await _expire(unit_of_work, objects, item)
        expired += len(due)


async def _expire(
    unit_of_work: Callable[[], UnitOfWork], objects: Objects, item: ExpiredFile
) -> None:
    # Deleting twice is harmless, so a crash between these two steps only repeats the first.
    await objects.delete(item.object_keys)
    async with unit_of_work() as uow:
        await uow.session.execute(
            update(expirations)
            .where(expirations.c.object_key.in_(item.object_keys))
            .values(deleted_at=utc_naive_now())
        )
        uow.emit(
            FileExpired(
                user_id=item.user_id,
                job_id=item.job_id,
                corpus_file_id=item.corpus_file_id,
                object_keys=item.object_keys,
                bytes_freed=item.size_bytes,
            ),
            correlation_id=str(item.job_id),
        )
        await uow.commit()
