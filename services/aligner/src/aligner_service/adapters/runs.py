"""Job runs in the aligner's schema: the SQL behind ``domain.runs``, nothing more."""

from __future__ import annotations

import json
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from aligner_service.adapters.tables import alignment_files, alignment_runs, job_pronunciations
from aligner_service.domain.runs import FileResult, FileRun, FileState, JobRun, JobState
from servicekit import utc_naive_now

__all__ = ["JobRuns", "SqlJobRuns"]


class JobRuns(Protocol):
    """What the service layer needs of stored runs (a fake in the unit tests)."""

    async def get(self, job_id: UUID, *, lock: bool = True) -> JobRun | None: ...

    async def add(self, run: JobRun) -> bool: ...

    async def save(self, run: JobRun) -> None: ...

    async def forget_user(self, user_id: UUID) -> None: ...

    async def unstarted(self, job_id: UUID) -> set[UUID] | None: ...

    async def keep_pronunciations(self, job_id: UUID, entries: dict[str, list[str]]) -> None: ...

    async def pronunciations(self, job_id: UUID) -> dict[str, list[str]]: ...


class SqlJobRuns:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, job_id: UUID, *, lock: bool = True) -> JobRun | None:
        """``lock``: the run row is held until the transaction ends, so that replicas
        change one job one at a time (every change is a few short statements)."""
        query = select(alignment_runs).where(alignment_runs.c.job_id == job_id)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            return None
        files = await self._session.execute(
            select(alignment_files)
            .where(alignment_files.c.job_id == job_id)
            .order_by(alignment_files.c.file_index)
        )
        return JobRun(
            job_id=row.job_id,
            user_id=row.user_id,
            engine=row.engine,
            files=[_file(f) for f in files],
            state=JobState(row.status),
            cancelled=row.status == JobState.CANCELLED,
            finished_at=row.finished_at,
        )

    async def add(self, run: JobRun) -> bool:
        """False when the job has a run already (then nothing is written)."""
        result = await self._session.execute(
            insert(alignment_runs)
            .prefix_with("IGNORE")
            .values(
                job_id=run.job_id,
                user_id=run.user_id,
                engine=run.engine,
                attempts=1,
                status=run.state.value,
                files_total=len(run.files),
                started_at=utc_naive_now(),
                finished_at=run.finished_at,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        if run.files:
            await self._session.execute(
                insert(alignment_files), [_file_row(run.job_id, f) for f in run.files]
            )
        run.changed.clear()
        return True

    async def save(self, run: JobRun) -> None:
        await self._session.execute(
            update(alignment_runs)
            .where(alignment_runs.c.job_id == run.job_id)
            .values(
                status=run.state.value,
                files_aligned=sum(f.state is FileState.ALIGNED for f in run.files),
                finished_at=run.finished_at,
            )
        )
        for file in run.files:
            if file.file_id in run.changed:
                row = _file_row(run.job_id, file)
                await self._session.execute(
                    update(alignment_files)
                    .where(alignment_files.c.file_id == file.file_id)
                    .values({k: v for k, v in row.items() if k not in ("file_id", "job_id")})
                )
        run.changed.clear()

    async def unstarted(self, job_id: UUID) -> set[UUID] | None:
        """The files of the job no delivery has started (none once it is cancelled); None
        when the job is not planned. Two small reads, not the whole run: aging asks it of
        every job that waited long."""
        status = (
            await self._session.execute(
                select(alignment_runs.c.status).where(alignment_runs.c.job_id == job_id)
            )
        ).scalar()
        if status is None:
            return None
        if status == JobState.CANCELLED:
            return set()
        rows = await self._session.execute(
            select(alignment_files.c.file_id).where(
                alignment_files.c.job_id == job_id,
                alignment_files.c.state == FileState.PENDING.value,
                alignment_files.c.owner.is_(None),
            )
        )
        return set(rows.scalars())

    async def keep_pronunciations(self, job_id: UUID, entries: dict[str, list[str]]) -> None:
        """The job's own pronunciations (after its run was added)."""
        await self._session.execute(
            insert(job_pronunciations).values(job_id=job_id, entries=json.dumps(entries))
        )

    async def pronunciations(self, job_id: UUID) -> dict[str, list[str]]:
        entries = (
            await self._session.execute(
                select(job_pronunciations.c.entries).where(job_pronunciations.c.job_id == job_id)
            )
        ).scalar()
        found: dict[str, list[str]] = json.loads(entries) if entries else {}
        return found

    async def forget_user(self, user_id: UUID) -> None:
        await self._session.execute(
            delete(alignment_runs).where(alignment_runs.c.user_id == user_id)
        )


def _file(row: Row[Any]) -> FileRun:
    result = (
        None
        if row.aligned is None
        else FileResult(
            aligned=bool(row.aligned),
            result_keys=json.loads(row.result_keys or "{}"),
            word_count=row.word_count,
            oov_count=row.oov_count,
            low_quality=bool(row.low_quality),
            error=row.error,
        )
    )
    return FileRun(
        file_id=row.file_id,
        index=row.file_index,
        state=FileState(row.state),
        attempts=row.attempts,
        owner=row.owner,
        worker=row.worker,
        progress=row.progress,
        result=result,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _file_row(job_id: UUID, file: FileRun) -> dict[str, Any]:
    result = file.result
    return {
        "file_id": file.file_id,
        "job_id": job_id,
        "file_index": file.index,
        "state": file.state.value,
        "attempts": file.attempts,
        "owner": file.owner,
        "worker": file.worker,
        "progress": file.progress,
        "aligned": None if result is None else result.aligned,
        "result_keys": None if result is None else json.dumps(result.result_keys),
        "word_count": 0 if result is None else result.word_count,
        "oov_count": 0 if result is None else result.oov_count,
        "low_quality": False if result is None else result.low_quality,
        "error": None if result is None else result.error,
        "started_at": file.started_at,
        "finished_at": file.finished_at,
    }
