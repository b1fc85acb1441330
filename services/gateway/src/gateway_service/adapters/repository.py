"""Reads and writes of the jobs read model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway_service.adapters.tables import job_files, jobs
from gateway_service.domain.jobs import ACTIVE, FileStatus, JobStatus

__all__ = ["FileRecord", "JobRecord", "JobRepository"]


@dataclass
class FileRecord:
    id: UUID
    file_index: int
    stem: str
    audio_name: str
    text_name: str
    status: FileStatus
    duration: float | None = None
    audio_key: str | None = None
    result_keys: dict[str, str] = field(default_factory=dict)
    word_count: int | None = None
    oov_count: int | None = None
    low_quality: bool | None = None
    error: str | None = None


@dataclass
class JobRecord:
    id: UUID
    user_id: UUID
    status: JobStatus
    progress: int
    language: str
    engine: str | None
    options: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime
    files: list[FileRecord] = field(default_factory=list)
    plan: str | None = None  # the submitter's plan when it was submitted


def _file(row: Any) -> FileRecord:
    values = dict(row._mapping)
    values.pop("job_id")
    values["status"] = FileStatus(values["status"])
    values["result_keys"] = json.loads(values["result_keys"] or "{}")
    return FileRecord(**values)


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, job: JobRecord, idempotency_key: str | None) -> None:
        await self._session.execute(
            insert(jobs).values(
                id=job.id,
                user_id=job.user_id,
                status=job.status.value,
                progress=job.progress,
                language=job.language,
                engine=job.engine,
                options=json.dumps(job.options),
                error=None,
                idempotency_key=idempotency_key,
                created_at=job.created_at,
                updated_at=job.updated_at,
                plan=job.plan,
            )
        )
        await self._session.execute(
            insert(job_files),
            [
                {
                    "id": f.id,
                    "job_id": job.id,
                    "file_index": f.file_index,
                    "stem": f.stem,
                    "audio_name": f.audio_name,
                    "text_name": f.text_name,
                    "status": f.status.value,
                    "result_keys": "{}",
                }
                for f in job.files
            ],
        )

    async def get(self, user_id: UUID, job_id: UUID, *, lock: bool = False) -> JobRecord | None:
        """A job of this user, or None: another user's job does not exist for them."""
        query = select(jobs).where(jobs.c.id == job_id, jobs.c.user_id == user_id)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            return None
        return await self._with_files(row)

    async def delete(self, user_id: UUID, job_id: UUID) -> bool:
        """The job and its files (they cascade); False when the user has no such job."""
        done = await self._session.execute(
            delete(jobs).where(jobs.c.id == job_id, jobs.c.user_id == user_id)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    async def get_for_event(self, job_id: UUID) -> JobRecord | None:
        """Events are trusted facts: no owner filter, and the row is locked for the update."""
        row = (
            await self._session.execute(select(jobs).where(jobs.c.id == job_id).with_for_update())
        ).first()
        return None if row is None else await self._with_files(row)

    async def by_idempotency_key(self, user_id: UUID, key: str) -> JobRecord | None:
        row = (
            await self._session.execute(
                select(jobs).where(jobs.c.user_id == user_id, jobs.c.idempotency_key == key)
            )
        ).first()
        return None if row is None else await self._with_files(row)

    async def list(
        self,
        user_id: UUID,
        *,
        status: JobStatus | None,
        before: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[JobRecord]:
        query = select(jobs).where(jobs.c.user_id == user_id)
        if status is not None:
            query = query.where(jobs.c.status == status.value)
        if before is not None:
            created, job_id = before
            query = query.where(
                or_(
                    jobs.c.created_at < created,
                    and_(jobs.c.created_at == created, jobs.c.id < job_id),
                )
            )
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        return [await self._with_files(row) for row in (await self._session.execute(query)).all()]

    async def count_active(self, user_id: UUID) -> int:
        """Jobs not yet finished: what the plan's concurrent-jobs limit counts."""
        active = [s.value for s in ACTIVE]
        query = select(func.count()).where(jobs.c.user_id == user_id, jobs.c.status.in_(active))
        return int((await self._session.execute(query)).scalar_one())

    async def oldest_waiting(self) -> dict[str | None, tuple[int, datetime]]:
        """Per plan: how many jobs no aligner has started yet, and the oldest one's
        ``created_at`` (the ``(status, created_at)`` index: waiting jobs only are read)."""
        waiting = [JobStatus.PENDING.value, JobStatus.STORED.value]
        query = (
            select(jobs.c.plan, func.count(), func.min(jobs.c.created_at))
            .where(jobs.c.status.in_(waiting))
            .group_by(jobs.c.plan)
        )
        rows = (await self._session.execute(query)).all()
        return {plan: (int(count), oldest) for plan, count, oldest in rows}

    async def _with_files(self, row: Any) -> JobRecord:
        values = dict(row._mapping)
        values.pop("idempotency_key")
        values["status"] = JobStatus(values["status"])
        values["options"] = json.loads(values["options"])
        files = await self._session.execute(
            select(job_files).where(job_files.c.job_id == row.id).order_by(job_files.c.file_index)
        )
        return JobRecord(**values, files=[_file(f) for f in files.all()])

    async def save_state(self, job: JobRecord) -> None:
        """Write back status, progress, error, every file's state, and ``updated_at``."""
        await self._session.execute(
            update(jobs)
            .where(jobs.c.id == job.id)
            .values(
                status=job.status.value,
                progress=job.progress,
                error=job.error,
                updated_at=job.updated_at,  # the version the change feed and webhooks show
            )
        )
        for f in job.files:
            await self._session.execute(
                update(job_files)
                .where(job_files.c.id == f.id)
                .values(
                    status=f.status.value,
                    duration=f.duration,
                    audio_key=f.audio_key,
                    result_keys=json.dumps(f.result_keys),
                    word_count=f.word_count,
                    oov_count=f.oov_count,
                    low_quality=f.low_quality,
                    error=f.error,
                )
            )
