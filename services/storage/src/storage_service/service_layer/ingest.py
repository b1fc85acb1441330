"""Turns a submitted job into stored corpus files, or into reasons a user can act on, one
pair at a time. A job is planned once (a run, a row and a work item per pair, in the outbox
with the plan), and any replica stores any pair. No transaction is open while a pair is
downloaded, checked, converted and uploaded: each step is a short one on the job's locked
run row (``domain.ingests`` decides), and the replica that records the last pair publishes
the job's answer (FilesStored or FilesRejected) once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, timedelta

from contracts import (
    Envelope,
    FilesRejected,
    FilesStored,
    JobCancelled,
    JobSubmitted,
    PairIngestQueued,
    SubmittedPair,
)
from servicekit import UnitOfWork, get_logger, utc_naive_now
from servicekit.errors import is_unavailable
from servicekit.messaging import Delivery
from servicekit.objects import Objects
from storage_service.adapters.ingests import IngestRuns, SqlIngestRuns
from storage_service.domain.checks import PairRejected
from storage_service.domain.ingests import IngestRun, PairState, Rejection, StoredPair
from storage_service.domain.keys import audio_key, text_key
from storage_service.metrics import FILES_REJECTED, FILES_STORED
from storage_service.service_layer.store_pair import IngestLimits, PairStorer

__all__ = ["Ingest", "IngestLimits", "RunsOf"]

log = get_logger(__name__)

RunsOf = Callable[[UnitOfWork], IngestRuns]


def sql_runs(uow: UnitOfWork) -> IngestRuns:
    return SqlIngestRuns(uow.session)


class Ingest:
    def __init__(
        self,
        storer: PairStorer,
        objects: Objects,
        unit_of_work: Callable[[], UnitOfWork],
        retention: timedelta,
        max_attempts: int,
        worker: str,
        runs: RunsOf = sql_runs,
    ) -> None:
        self._storer = storer
        self._objects = objects
        self._uow = unit_of_work
        self._retention = retention  # storage's own, for a job whose plan gives none
        self._max_attempts = max_attempts
        self._worker = worker
        self._runs = runs

    async def plan(self, envelope: Envelope[JobSubmitted], uow: UnitOfWork) -> None:
        """A submitted job becomes one work item per pair, at the job's priority; or, if it
        was deleted or its upload abandoned first, a FilesRejected for every pair."""
        job, now = envelope.payload, utc_naive_now()
        runs = self._runs(uow)
        # The user's plan decides how long files are kept; storage's own default otherwise.
        retention = timedelta(days=job.retention_days) if job.retention_days else self._retention
        run = IngestRun.plan(job, now + retention, now)
        refusal = await runs.refusal(job.job_id)
        if refusal is not None:
            log.info("job.refused_before_storing", code=refusal.code)
            run.refuse(refusal, now)
            self._emit(run, uow, envelope.correlation_id)
            self._delete_after_commit(uow, _upload_keys(*job.pairs))
            return
        if not await runs.add(run):
            log.info("job.not_planned", reason="planned already")
            return
        for pair in job.pairs:
            uow.emit(
                PairIngestQueued(
                    job_id=job.job_id,
                    user_id=job.user_id,
                    pair=pair,
                    expires_at=run.expires_at.replace(tzinfo=UTC),
                    priority=job.priority,
                    pairs_total=len(job.pairs),
                ),
                correlation_id=envelope.correlation_id,
                priority=job.priority,
            )
        self._emit(run, uow, envelope.correlation_id)  # a job without pairs: answered now
        log.info("job.planned", pairs=len(job.pairs))

    async def store(
        self, envelope: Envelope[PairIngestQueued], delivery: Delivery | None = None
    ) -> None:
        """One pair: claimed, stored with no transaction open, its outcome recorded; the
        replica that records the job's last pair publishes the job's answer."""
        item = envelope.payload
        file_id = item.pair.file_id
        attempt: int | None = None
        # A broker blip cancels this task wherever it is: once the attempt may have been
        # recorded (from the start's commit to the outcome's), it is taken back.
        try:
            async with self._uow() as uow:
                run = await self._runs(uow).get(item.job_id)
                if run is None:  # the user was deleted meanwhile (the plan came with the item)
                    log.info("pair.skipped", file_id=str(file_id), reason="no such job any more")
                    return
                if run.pair(file_id).final:
                    log.info("pair.skipped", file_id=str(file_id), reason="final already")
                    return
                attempt = run.start(
                    file_id,
                    self._worker,
                    self._max_attempts,
                    utc_naive_now(),
                    resumed=delivery is not None and delivery.resumed,
                )
                await self._save(run, uow, envelope)
            if attempt is None:
                log.info(
                    "pair.skipped", file_id=str(file_id), reason="cancelled, given up or running"
                )
                return
            try:
                outcome = await self._store_one(item)
            except Exception as exc:
                if is_unavailable(exc) or await self._failed(envelope, attempt):
                    raise
                log.exception("pair.failed", attempt=attempt, retried=False, file_id=str(file_id))
                return
            await self._record(envelope, outcome)
        except BaseException as exc:
            cut_short = isinstance(exc, asyncio.CancelledError) or is_unavailable(exc)
            if attempt is not None and cut_short:
                await asyncio.shield(self._interrupted(envelope, attempt))
            raise

    async def cancel(self, envelope: Envelope[JobCancelled], uow: UnitOfWork) -> None:
        """The owner deleted the job: a JobSubmitted not yet planned is refused when it
        comes; pairs not started are rejected (``cancelled``), running ones finish (their
        files are then the janitor's to delete). What was uploaded for it goes."""
        event = envelope.payload
        runs = self._runs(uow)
        await runs.record_cancelled(event.job_id, event.user_id)
        run = await runs.get(event.job_id)
        if run is not None:
            run.cancel(utc_naive_now())
            await runs.save(run)
            self._emit(run, uow, envelope.correlation_id)

        async def delete_upload() -> None:
            await self._objects.delete_prefix(f"incoming/{event.user_id}/{event.job_id}/")

        uow.after_commit(delete_upload)

    async def _store_one(self, item: PairIngestQueued) -> StoredPair | Rejection:
        """Content refusals reject the pair; any other error is raised."""
        try:
            return await self._storer.store(item.user_id, item.job_id, item.pair)
        except PairRejected as exc:
            log.info("pair.rejected", index=item.pair.index, code=exc.code)
            return Rejection(exc.code, exc.reason)

    async def _record(
        self, envelope: Envelope[PairIngestQueued], outcome: StoredPair | Rejection
    ) -> None:
        item = envelope.payload
        file_id = item.pair.file_id
        async with self._uow() as uow:
            run = await self._runs(uow).get(item.job_id)
            if run is None:  # the user was deleted while the pair was stored: none of it stays
                log.info("pair.result_dropped", file_id=str(file_id), reason="no such job")
                await self._objects.delete(_upload_keys(item.pair) + _corpus_keys(item))
                return
            if not run.finish(file_id, outcome, utc_naive_now()):
                log.info("pair.result_dropped", file_id=str(file_id), reason="final already")
                return
            await self._save(run, uow, envelope)
        log.info("pair.recorded", file_id=str(file_id), state=run.pair(file_id).state.value)

    async def _failed(self, envelope: Envelope[PairIngestQueued], attempt: int) -> bool:
        """An attempt failed unexpectedly: True to have the delivery retried (the kit does,
        after a pause; the next delivery is the pair's next attempt). False when that was
        its last attempt: the pair is rejected now (``storage_error``), rather than looping."""
        item = envelope.payload
        try:
            async with self._uow() as uow:
                run = await self._runs(uow).get(item.job_id)
                if run is None:
                    return True
                if run.failed(item.pair.file_id, attempt, self._max_attempts, utc_naive_now()):
                    return True
                await self._save(run, uow, envelope)
        except Exception as exc:  # the next delivery counts the attempt instead
            log.warning("pair.failure_not_recorded", attempt=attempt, error=type(exc).__name__)
            return True
        return False

    async def _interrupted(self, envelope: Envelope[PairIngestQueued], attempt: int) -> None:
        """Take back an attempt that was cut short rather than failed (best effort: with
        the database away it stays counted)."""
        item = envelope.payload
        try:
            async with self._uow() as uow:
                run = await self._runs(uow).get(item.job_id)
                if run is not None:
                    run.interrupted(item.pair.file_id, attempt)
                    await self._save(run, uow, envelope)
        except Exception as exc:
            log.warning("pair.attempt_kept", attempt=attempt, error=type(exc).__name__)
        else:
            log.warning("pair.interrupted", attempt=attempt, counted=False)

    async def _save(
        self, run: IngestRun, uow: UnitOfWork, envelope: Envelope[PairIngestQueued]
    ) -> None:
        """The run and its events, committed; then, if the pair is final, its upload goes
        (and, rejected, whatever an earlier attempt of it may have written)."""
        item = envelope.payload
        pair = run.pair(item.pair.file_id)
        await self._runs(uow).save(run)
        self._emit(run, uow, envelope.correlation_id)
        if pair.final:
            keys = _upload_keys(item.pair)
            if pair.state is PairState.REJECTED and pair.attempts:
                keys += _corpus_keys(item)
            self._delete_after_commit(uow, keys)
        await uow.commit()

    def _delete_after_commit(self, uow: UnitOfWork, keys: list[str]) -> None:
        async def delete() -> None:
            await self._objects.delete(keys)

        uow.after_commit(delete)

    @staticmethod
    def _emit(run: IngestRun, uow: UnitOfWork, correlation_id: str) -> None:
        for event in run.events:
            priority = run.priority if isinstance(event, FilesStored) else None
            uow.emit(event, correlation_id=correlation_id, priority=priority)
            if isinstance(event, FilesStored | FilesRejected):
                uow.after_commit(_counter(event))
        run.events.clear()


def _counter(event: FilesStored | FilesRejected) -> Callable[[], Awaitable[None]]:
    """Counts the job's stored and refused pairs once its answer is committed."""
    stored = len(event.files) if isinstance(event, FilesStored) else 0
    reasons = [r.code for r in event.rejected]

    async def count() -> None:
        FILES_STORED.inc(stored)
        for reason in reasons:
            FILES_REJECTED.labels(reason).inc()

    return count


def _upload_keys(*pairs: SubmittedPair) -> list[str]:
    """The uploaded parts under incoming/."""
    return [key for p in pairs for key in (p.audio_key, p.text_key)]


def _corpus_keys(item: PairIngestQueued) -> list[str]:
    return [_key(item.user_id, item.job_id, item.pair.file_id) for _key in (audio_key, text_key)]
