"""Jobs as files: a job is planned once (one work item per file, in the outbox with the
plan), and any replica aligns any file. No transaction is open while a file is aligned:
each step is a short one on the job's locked run row (``domain.runs`` decides)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

from aligner_service.adapters.runs import JobRuns, SqlJobRuns
from aligner_service.domain.runs import FileResult, JobRun
from aligner_service.engines.base import Engine, EngineFailed, EngineUnavailable
from aligner_service.engines.registry import EngineRegistry
from aligner_service.metrics import ALIGNED_FILES
from aligner_service.service_layer.align_file import FileAligner
from contracts import (
    DICTIONARY_WORDS_OPTION,
    PRONUNCIATIONS_OPTION,
    TRANSCRIPT_FORMAT_OPTION,
    Envelope,
    FileAlignmentQueued,
    FilesStored,
    JobCancelled,
)
from servicekit import UnitOfWork, get_logger, utc_naive_now
from servicekit.errors import is_unavailable
from servicekit.messaging import Delivery

__all__ = ["AlignFiles", "RunsOf", "work_items"]

log = get_logger(__name__)

RunsOf = Callable[[UnitOfWork], JobRuns]
IPA_ENGINE = "espeak-phones"


def work_items(job: FilesStored, priority: int | None = None) -> list[FileAlignmentQueued]:
    """One unit of work per file of the job, at the job's priority unless told. The job's
    own pronunciations are not copied into each: they are kept once, with its run."""
    options = {k: v for k, v in job.options.items() if k != PRONUNCIATIONS_OPTION}
    return [
        FileAlignmentQueued(
            job_id=job.job_id,
            user_id=job.user_id,
            language=job.language,
            engine=job.engine,
            options=options,
            priority=job.priority if priority is None else priority,
            file=file,
            files_total=len(job.files),
        )
        for file in job.files
    ]


def sql_runs(uow: UnitOfWork) -> JobRuns:
    return SqlJobRuns(uow.session)


class AlignFiles:
    def __init__(
        self,
        engines: EngineRegistry,
        aligner: FileAligner,
        unit_of_work: Callable[[], UnitOfWork],
        max_attempts: int,
        worker: str,
        runs: RunsOf = sql_runs,
    ) -> None:
        self._engines = engines
        self._aligner = aligner
        self._uow = unit_of_work
        self._max_attempts = max_attempts
        self._worker = worker
        self._runs = runs

    async def plan(self, envelope: Envelope[FilesStored], uow: UnitOfWork) -> None:
        """A stored job becomes one work item per file (a second delivery, or a job deleted
        first, plans nothing)."""
        job = envelope.payload
        runs = self._runs(uow)
        if await runs.get(job.job_id, lock=False) is not None:
            log.info("job.not_planned", reason="planned already, or deleted")
            return
        try:
            engine_name = self._engines.get(job.engine, job.language).name
            refusal = None
        except EngineUnavailable as exc:
            engine_name, refusal = job.engine or "default", str(exc)
        run = JobRun.plan(
            job.job_id,
            job.user_id,
            engine_name,
            [(f.corpus_file_id, f.index) for f in job.files],
        )
        if refusal is not None:
            run.refuse(refusal, utc_naive_now())
        if not await runs.add(run):
            return  # another delivery planned it meanwhile
        pronunciations = job.options.get(PRONUNCIATIONS_OPTION)
        if pronunciations:
            await runs.keep_pronunciations(job.job_id, pronunciations)
        if refusal is None:
            for item in work_items(job):
                uow.emit(item, correlation_id=envelope.correlation_id, priority=item.priority)
        self._emit(run, uow, envelope.correlation_id)
        log.info("job.planned", files=len(job.files), refused=refusal)

    async def align(
        self, envelope: Envelope[FileAlignmentQueued], delivery: Delivery | None = None
    ) -> None:
        """One file: claimed, aligned with no transaction open, its outcome recorded; the
        replica that records the job's last file publishes AlignmentDone."""
        item, delivery_id = envelope.payload, str(envelope.event_id)
        file_id = item.file.corpus_file_id
        attempt: int | None = None
        # A broker blip cancels this task wherever it is: once the attempt may have been
        # recorded (from the start's commit to the finish's), it is taken back.
        try:
            async with self._uow() as uow:
                run = await self._runs(uow).get(item.job_id)
                if run is None:
                    log.warning("file.unplanned", file_id=str(file_id))
                    return
                attempt = run.start(
                    file_id,
                    delivery_id,
                    self._worker,
                    self._max_attempts,
                    utc_naive_now(),
                    resumed=delivery is not None and delivery.resumed,
                )
                await self._save(run, uow, envelope.correlation_id)
            if attempt is None:
                log.info("file.skipped", file_id=str(file_id), reason="final, cancelled or owned")
                return
            result = await self._align_one(item, self._reporter(envelope))
            async with self._uow() as uow:
                run = await self._runs(uow).get(item.job_id)
                assert run is not None
                if not run.finish(file_id, delivery_id, result, utc_naive_now()):
                    log.info("file.result_dropped", file_id=str(file_id))
                    return
                await self._save(run, uow, envelope.correlation_id)
        except BaseException as exc:
            cut_short = isinstance(exc, asyncio.CancelledError) or is_unavailable(exc)
            if attempt is not None and cut_short:
                await asyncio.shield(self._interrupted(envelope, attempt))
            raise
        log.info("file.aligned" if result.aligned else "file.failed", file_id=str(file_id))

    async def cancel(self, event: JobCancelled, uow: UnitOfWork) -> None:
        """The owner deleted the job: files not started never start, running ones finish
        (their results are deleted by the janitor)."""
        runs = self._runs(uow)
        run = await runs.get(event.job_id)
        if run is None:
            await runs.add(
                JobRun.deleted_before_planned(event.job_id, event.user_id, utc_naive_now())
            )
            return
        run.cancel(utc_naive_now())
        await runs.save(run)
        self._emit(run, uow, str(event.job_id))

    async def not_started(self, job_id: UUID, uow: UnitOfWork) -> set[UUID] | None:
        """The job's files no replica has started (for aging); None: not planned yet."""
        return await self._runs(uow).unstarted(job_id)

    async def _align_one(
        self, item: FileAlignmentQueued, progress: Callable[[float], Coroutine[Any, Any, None]]
    ) -> FileResult:
        """Engine refusals fail the file; any other error is raised (the delivery is
        retried, and the next delivery is the file's next attempt)."""
        # IPA words are read by the engine that reads sounds, whatever the language's default.
        ipa = item.options.get(TRANSCRIPT_FORMAT_OPTION) == "ipa"
        try:
            engine = self._engines.get(item.engine or (IPA_ENGINE if ipa else None), item.language)
        except EngineUnavailable as exc:
            ALIGNED_FILES.labels("none", "unavailable").inc()  # a bounded label
            return FileResult(aligned=False, error=str(exc))
        try:
            result = await self._run_engine(engine, item, progress)
        except EngineFailed as exc:
            log.info("file.alignment_failed", reason=str(exc))
            ALIGNED_FILES.labels(engine.name, "failed").inc()
            return FileResult(aligned=False, error=str(exc))
        ALIGNED_FILES.labels(engine.name, "aligned").inc()
        return result

    async def _run_engine(
        self,
        engine: Engine,
        item: FileAlignmentQueued,
        progress: Callable[[float], Coroutine[Any, Any, None]],
    ) -> FileResult:
        pronunciations = await self._pronunciations(item)
        transcript_format = str(item.options.get(TRANSCRIPT_FORMAT_OPTION) or "text")
        if item.options.get("validate"):
            report, keys = await self._aligner.validate(
                engine, item.user_id, item.job_id, item.file, pronunciations, transcript_format
            )
            return FileResult(
                aligned=True,
                result_keys=keys,
                word_count=report.words_total,
                oov_count=len(report.oov),
                low_quality=not report.ready,
            )
        result, keys = await self._aligner.align(
            engine,
            item.user_id,
            item.job_id,
            item.language,
            item.file,
            progress,
            pronunciations=pronunciations,
            transcript_format=transcript_format,
        )
        return FileResult(
            aligned=True,
            result_keys=keys,
            word_count=len(result.words),
            oov_count=len(result.oov),
            low_quality=result.quality.low_quality,
        )

    async def _pronunciations(self, item: FileAlignmentQueued) -> dict[str, list[str]]:
        """The job's own pronunciations, when its dictionary had any."""
        if not item.options.get(DICTIONARY_WORDS_OPTION):
            return {}
        async with self._uow() as uow:
            return await self._runs(uow).pronunciations(item.job_id)

    def _reporter(
        self, envelope: Envelope[FileAlignmentQueued]
    ) -> Callable[[float], Coroutine[Any, Any, None]]:
        """Progress within a long file, as a share of the whole job."""
        item = envelope.payload

        async def report(share: float) -> None:
            async with self._uow() as uow:
                run = await self._runs(uow).get(item.job_id)
                if run is not None:
                    run.report(item.file.corpus_file_id, share)
                    await self._save(run, uow, envelope.correlation_id)

        return report

    async def _interrupted(self, envelope: Envelope[FileAlignmentQueued], attempt: int) -> None:
        """Take back an attempt that was cut short rather than failed (best effort: with
        the database away it stays counted)."""
        item = envelope.payload
        try:
            async with self._uow() as uow:
                run = await self._runs(uow).get(item.job_id)
                if run is not None:
                    run.interrupted(item.file.corpus_file_id, str(envelope.event_id), attempt)
                    await self._save(run, uow, envelope.correlation_id)
        except Exception as exc:
            log.warning("file.attempt_kept", attempt=attempt, error=type(exc).__name__)
        else:
            log.warning("file.interrupted", attempt=attempt, counted=False)

    async def _save(self, run: JobRun, uow: UnitOfWork, correlation_id: str) -> None:
        await self._runs(uow).save(run)
        self._emit(run, uow, correlation_id)
        await uow.commit()

    @staticmethod
    def _emit(run: JobRun, uow: UnitOfWork, correlation_id: str) -> None:
        for event in run.events:
            uow.emit(event, correlation_id=correlation_id)
        run.events.clear()
