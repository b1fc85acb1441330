"""Keeps each job's public state from the events of the other services."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from contracts import (
    AlignmentDone,
    AlignmentOutcome,
    AlignmentProgress,
    AlignmentStarted,
    FileExpired,
    FileRejection,
    FilesRejected,
    FilesStored,
)
from gateway_service.adapters.repository import FileRecord, JobRecord, JobRepository
from gateway_service.domain.jobs import FileStatus, JobStatus, advance, advance_file
from gateway_service.metrics import count_finished
from gateway_service.service_layer.job_changes import JobChanges
from gateway_service.service_layer.notifications import announce_if_finished
from servicekit import UnitOfWork, get_logger, utc_naive_now

__all__ = ["apply_event"]

log = get_logger(__name__)

Fact = (
    FilesStored | FilesRejected | AlignmentStarted | AlignmentProgress | AlignmentDone | FileExpired
)
STORED_PROGRESS = 5  # stored but not yet aligned: something happened, little is done
# jobs_failed_total's reason: the event that failed the job.
FAILURE_REASONS = {FilesRejected: "files_rejected", AlignmentDone: "alignment_failed"}


async def apply_event(fact: Fact, uow: UnitOfWork, changes: JobChanges | None = None) -> None:
    """Update the job; once committed, ``changes`` (the process's change feed) hears of it."""
    repository = JobRepository(uow.session)
    job = await repository.get_for_event(fact.job_id)
    if job is None:  # e.g. the job was deleted meanwhile: nothing left to update
        log.info("read_model.unknown_job")
        return
    before = job.status
    APPLY[type(fact)](job, fact)
    # The row's version: the feed's poll reads it, and JobFinished carries the same.
    job.updated_at = utc_naive_now()
    await repository.save_state(job)
    announce_if_finished(job, before, uow)  # webhooks: JobFinished, once per final state
    if job.status is not before:
        status, plan, engine = job.status.value, job.plan, job.engine
        reason = FAILURE_REASONS.get(type(fact), "other")

        async def counted() -> None:
            count_finished(status, plan, engine, reason)

        uow.after_commit(counted)
    if changes is not None:
        feed = changes

        async def committed() -> None:
            feed.publish(job)

        uow.after_commit(committed)


def _files(job: JobRecord) -> dict[UUID, FileRecord]:
    return {f.id: f for f in job.files}


def _files_stored(job: JobRecord, fact: FilesStored) -> None:
    files = _files(job)
    for stored in fact.files:
        if (f := files.get(stored.corpus_file_id)) is not None:
            f.status = advance_file(f.status, FileStatus.STORED)
            f.duration, f.audio_key = stored.duration_seconds, stored.audio_key
    _reject(files, fact.rejected)
    job.status = advance(job.status, JobStatus.STORED)
    job.progress = max(job.progress, STORED_PROGRESS)


def _files_rejected(job: JobRecord, fact: FilesRejected) -> None:
    _reject(_files(job), fact.rejected)
    job.status = advance(job.status, JobStatus.FAILED)
    job.error = "no file could be stored: " + "; ".join(r.reason for r in fact.rejected)[:900]


def _reject(files: dict[UUID, FileRecord], rejected: list[FileRejection]) -> None:
    for r in rejected:
        if (f := files.get(r.corpus_file_id)) is not None:
            f.status = advance_file(f.status, FileStatus.REJECTED)
            f.error = r.reason


def _started(job: JobRecord, fact: AlignmentStarted) -> None:
    job.status = advance(job.status, JobStatus.PROCESSING)
    for f in job.files:
        f.status = advance_file(f.status, FileStatus.PROCESSING)


def _progress(job: JobRecord, fact: AlignmentProgress) -> None:
    job.status = advance(job.status, JobStatus.PROCESSING)
    # The last percent is reached with AlignmentDone, so that 100 means finished.
    job.progress = max(job.progress, min(fact.percent, 99))
    f = _files(job).get(fact.corpus_file_id) if fact.corpus_file_id else None
    if f is not None and fact.file_status == AlignmentOutcome.COMPLETED.value:
        f.status = advance_file(f.status, FileStatus.ALIGNED)


def _done(job: JobRecord, fact: AlignmentDone) -> None:
    files = _files(job)
    for outcome in fact.files:
        if (f := files.get(outcome.corpus_file_id)) is None:
            continue
        aligned = outcome.status is AlignmentOutcome.COMPLETED
        f.status = advance_file(f.status, FileStatus.ALIGNED if aligned else FileStatus.FAILED)
        f.result_keys, f.error = outcome.result_keys, outcome.error
        f.word_count, f.oov_count = outcome.word_count, outcome.oov_count
        f.low_quality = outcome.low_quality
    completed = fact.status is AlignmentOutcome.COMPLETED
    job.status = advance(job.status, JobStatus.COMPLETED if completed else JobStatus.FAILED)
    job.progress = 100
    job.error = fact.error


def _expired(job: JobRecord, fact: FileExpired) -> None:
    for f in job.files:
        if fact.corpus_file_id is None or f.id == fact.corpus_file_id:
            f.status = advance_file(f.status, FileStatus.EXPIRED)
    if all(f.status in (FileStatus.EXPIRED, FileStatus.REJECTED) for f in job.files):
        job.status = advance(job.status, JobStatus.EXPIRED)


APPLY: dict[type, Callable[[JobRecord, Fact], None]] = {
    FilesStored: _files_stored,  # type: ignore[dict-item]
    FilesRejected: _files_rejected,  # type: ignore[dict-item]
    AlignmentStarted: _started,  # type: ignore[dict-item]
    AlignmentProgress: _progress,  # type: ignore[dict-item]
    AlignmentDone: _done,  # type: ignore[dict-item]
    FileExpired: _expired,  # type: ignore[dict-item]
}
