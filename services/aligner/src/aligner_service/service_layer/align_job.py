"""One job: attempts bookkeeping, every file aligned (a failing file fails alone),
progress as it goes, and one AlignmentDone committed with the run's outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import case, insert, select, update

from aligner_service.adapters.tables import alignment_runs
from aligner_service.engines.base import Engine, EngineFailed, EngineUnavailable
from aligner_service.engines.registry import EngineRegistry
from aligner_service.service_layer.align_file import FileAligner
from contracts import (
    AlignmentDone,
    AlignmentOutcome,
    AlignmentProgress,
    AlignmentStarted,
    Envelope,
    FileOutcome,
    FilesStored,
    JobCancelled,
)
from contracts.files import StoredFile
from servicekit import UnitOfWork, get_logger, utc_naive_now
from servicekit.errors import is_unavailable

__all__ = ["AlignJobs"]

log = get_logger(__name__)

CANCELLED = "CANCELLED"  # a run's status, and the owner of a run that never started


class AlignJobs:
    def __init__(
        self,
        engines: EngineRegistry,
        aligner: FileAligner,
        unit_of_work: Callable[[], UnitOfWork],
        max_attempts: int,
    ) -> None:
        self._engines = engines
        self._aligner = aligner
        self._uow = unit_of_work
        self._max_attempts = max_attempts

    async def handle(self, envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        job = envelope.payload
        engine_name = job.engine or "default"
        attempt = await self._begin_attempt(job, engine_name, str(envelope.event_id))
        if attempt is None:
            log.info("job.skipped", reason="deleted, or its other copy owns it")
            return
        try:
            engine_name, outcomes = await self._run(job, envelope, attempt, engine_name)
        except BaseException as exc:
            # Cut short by a lost connection (CancelledError), a shutdown, or an unreachable
            # database or S3: the job's work did not fail, so this attempt does not count.
            if isinstance(exc, asyncio.CancelledError) or is_unavailable(exc):
                await asyncio.shield(self._uncount(job, attempt, str(envelope.event_id)))
            raise
        await self._finish(job, engine_name, outcomes, uow, envelope.correlation_id)

    async def _run(
        self, job: FilesStored, envelope: Envelope[FilesStored], attempt: int, engine_name: str
    ) -> tuple[str, list[FileOutcome]]:
        if attempt > self._max_attempts:
            reason = f"alignment failed {attempt - 1} times; giving up"
            outcomes = [_failed(f, reason) for f in job.files]
        else:
            try:
                engine = self._engines.get(job.engine, job.language)
            except EngineUnavailable as exc:
                outcomes = [_failed(f, str(exc)) for f in job.files]
            else:
                engine_name = engine.name
                await self._publish(
                    AlignmentStarted(
                        job_id=job.job_id,
                        user_id=job.user_id,
                        engine=engine.name,
                        attempt=attempt,
                        file_count=len(job.files),
                    ),
                    envelope.correlation_id,
                )
                outcomes = []
                for done, file in enumerate(job.files, start=1):
                    if await self._cancelled(job):  # deleted by its owner meanwhile
                        outcomes += [
                            _failed(f, "the job was deleted") for f in job.files[done - 1 :]
                        ]
                        break
                    outcomes.append(
                        await self._align_one(
                            engine, job, file, self._reporter(job, done - 1, envelope)
                        )
                    )
                    await self._publish(
                        AlignmentProgress(
                            job_id=job.job_id,
                            user_id=job.user_id,
                            corpus_file_id=file.corpus_file_id,
                            file_status=outcomes[-1].status.value,
                            files_done=done,
                            files_total=len(job.files),
                            percent=done * 100 // len(job.files),
                        ),
                        envelope.correlation_id,
                    )
        return engine_name, outcomes

    def _reporter(
        self, job: FilesStored, files_done: int, envelope: Envelope[FilesStored]
    ) -> Callable[[float], Coroutine[Any, Any, None]]:
        """Progress within a long file, as a share of the whole job."""

        async def report(share: float) -> None:
            await self._publish(
                AlignmentProgress(
                    job_id=job.job_id,
                    user_id=job.user_id,
                    files_done=files_done,
                    files_total=len(job.files),
                    percent=int((files_done + share) * 100 / len(job.files)),
                ),
                envelope.correlation_id,
            )

        return report

    async def _align_one(
        self,
        engine: Engine,
        job: FilesStored,
        file: StoredFile,
        progress: Callable[[float], Coroutine[Any, Any, None]],
    ) -> FileOutcome:
        for attempt in (1, 2):  # an unexpected error is retried once; an engine refusal is not
            try:
                if job.options.get("validate"):
                    report, keys = await self._aligner.validate(
                        engine, job.user_id, job.job_id, file
                    )
                    return FileOutcome(
                        corpus_file_id=file.corpus_file_id,
                        status=AlignmentOutcome.COMPLETED,
                        result_keys=keys,
                        word_count=report.words_total,
                        oov_count=len(report.oov),
                        low_quality=not report.ready,
                    )
                result, keys = await self._aligner.align(
                    engine, job.user_id, job.job_id, job.language, file, progress
                )
            except EngineFailed as exc:
                log.info("file.alignment_failed", file_id=str(file.corpus_file_id), reason=str(exc))
                return _failed(file, str(exc))
            except Exception as exc:
                if is_unavailable(exc):  # S3 or the database is away: not this file's fault
                    raise
                log.exception(
                    "file.alignment_error", file_id=str(file.corpus_file_id), attempt=attempt
                )
                continue
            return FileOutcome(
                corpus_file_id=file.corpus_file_id,
                status=AlignmentOutcome.COMPLETED,
                result_keys=keys,
                word_count=len(result.words),
                oov_count=len(result.oov),
                low_quality=result.quality.low_quality,
            )
        return _failed(file, "an internal error stopped the alignment of this file twice")

    async def _begin_attempt(self, job: FilesStored, engine: str, event_id: str) -> int | None:
        """Counted in its own committed transaction, so that a crash mid-job counts too.
        None when the job's other copy (original or promoted) got to it first."""
        async with self._uow() as uow:
            # INSERT IGNORE first: of two copies starting at once, the second waits for the
            # first's row instead of both inserting into a gap and deadlocking.
            await _add_run(
                uow,
                job_id=job.job_id,
                user_id=job.user_id,
                engine=engine,
                status="RUNNING",
                files_total=len(job.files),
                event_id=event_id,
            )
            row = (
                await uow.session.execute(
                    select(
                        alignment_runs.c.attempts,
                        alignment_runs.c.event_id,
                        alignment_runs.c.status,
                    )
                    .where(alignment_runs.c.job_id == job.job_id)
                    .with_for_update()
                )
            ).one()
            if row.event_id not in (None, event_id) or row.status == CANCELLED:
                return None
            attempt: int = row.attempts + 1
            await uow.session.execute(
                update(alignment_runs)
                .where(alignment_runs.c.job_id == job.job_id)
                .values(attempts=attempt, status="RUNNING", event_id=event_id)
            )
            await uow.commit()
        return attempt

    async def _uncount(self, job: FilesStored, attempt: int, event_id: str) -> None:
        """Take back an attempt that was interrupted rather than failed (best effort: with
        the database away it stays counted)."""
        try:
            async with self._uow() as uow:
                await uow.session.execute(
                    update(alignment_runs)
                    .where(
                        alignment_runs.c.job_id == job.job_id,
                        alignment_runs.c.event_id == event_id,
                        alignment_runs.c.attempts == attempt,
                    )
                    .values(attempts=attempt - 1)
                )
                await uow.commit()
        except Exception as exc:
            log.warning("job.attempt_kept", attempt=attempt, error=type(exc).__name__)
        else:
            log.warning("job.interrupted", attempt=attempt, counted=False)

    async def cancel(self, event: JobCancelled, uow: UnitOfWork) -> None:
        """The owner deleted the job: a job not started yet never starts (this row owns it),
        a running one stops before its next file."""
        await _add_run(
            uow,
            job_id=event.job_id,
            user_id=event.user_id,
            engine="-",
            status=CANCELLED,
            files_total=0,
            event_id=CANCELLED,
        )
        await uow.session.execute(
            update(alignment_runs)
            .where(alignment_runs.c.job_id == event.job_id)
            .values(status=CANCELLED)
        )

    async def _cancelled(self, job: FilesStored) -> bool:
        async with self._uow() as uow:
            status = (
                await uow.session.execute(
                    select(alignment_runs.c.status).where(alignment_runs.c.job_id == job.job_id)
                )
            ).scalar()
        return bool(status == CANCELLED)

    async def _publish(
        self, event: AlignmentStarted | AlignmentProgress, correlation_id: str
    ) -> None:
        async with self._uow() as uow:
            uow.emit(event, correlation_id=correlation_id)
            await uow.commit()

    async def _finish(
        self,
        job: FilesStored,
        engine: str,
        outcomes: list[FileOutcome],
        uow: UnitOfWork,
        correlation_id: str,
    ) -> None:
        aligned = sum(o.status is AlignmentOutcome.COMPLETED for o in outcomes)
        status = AlignmentOutcome.COMPLETED if aligned else AlignmentOutcome.FAILED
        error = None if aligned else "no file could be aligned"
        await uow.session.execute(
            update(alignment_runs)
            .where(alignment_runs.c.job_id == job.job_id)
            .values(
                status=case((alignment_runs.c.status == CANCELLED, CANCELLED), else_=status.value),
                files_aligned=aligned,
                engine=engine,
                finished_at=utc_naive_now(),
                error=error,
            )
        )
        uow.emit(
            AlignmentDone(
                job_id=job.job_id,
                user_id=job.user_id,
                status=status,
                engine=engine,
                files=outcomes,
                error=error,
            ),
            correlation_id=correlation_id,
        )
        log.info("job.aligned", status=status.value, files_aligned=aligned, files=len(outcomes))


async def _add_run(uow: UnitOfWork, **values: object) -> None:
    """A job's run row, unless it has one: the first delivery to write it owns the job."""
    await uow.session.execute(
        insert(alignment_runs)
        .prefix_with("IGNORE")
        .values(attempts=0, started_at=utc_naive_now(), **values)
    )


def _failed(file: StoredFile, reason: str) -> FileOutcome:
    return FileOutcome(
        corpus_file_id=file.corpus_file_id, status=AlignmentOutcome.FAILED, error=reason
    )
