"""``JobFinished``: told once per final state of a job, with the job as the API shows it,
in the same transaction as the change (the outbox): the notifier delivers the webhooks."""

from __future__ import annotations

from datetime import UTC

from contracts.notifications import JobFileView, JobFinished, JobView, WebhookEventType
from gateway_service.adapters.repository import JobRecord
from gateway_service.domain.jobs import ACTIVE, JobStatus
from gateway_service.domain.notifications import finished_event
from servicekit import UnitOfWork, utc_naive_now

__all__ = ["announce_cancelled", "announce_if_finished", "job_view"]


def job_view(job: JobRecord) -> JobView:
    """The job as ``GET /api/v1/alignment/{id}`` shows it (``api.views.job_out``)."""
    return JobView(
        id=job.id,
        status=job.status.value,
        progress=job.progress,
        created_at=job.created_at.replace(tzinfo=UTC),
        updated_at=job.updated_at.replace(tzinfo=UTC),
        language=job.language,
        engine=job.engine,
        options=job.options,
        files=[
            JobFileView(
                id=f.id,
                audio_name=f.audio_name,
                text_name=f.text_name,
                status=f.status.value,
                duration=f.duration,
                error=f.error,
                word_count=f.word_count,
                oov_count=f.oov_count,
                low_quality=f.low_quality,
            )
            for f in job.files
        ],
        error=job.error,
    )


def _emit(job: JobRecord, event: WebhookEventType, uow: UnitOfWork) -> None:
    uow.emit(
        JobFinished(job_id=job.id, user_id=job.user_id, event=event, job=job_view(job)),
        correlation_id=str(job.id),
    )


def announce_if_finished(job: JobRecord, before: JobStatus, uow: UnitOfWork) -> None:
    event = finished_event(before, job.status)
    if event is not None:
        _emit(job, event, uow)


def announce_cancelled(job: JobRecord, uow: UnitOfWork) -> None:
    """Its owner deleted a job that had not finished: it ends as CANCELLED."""
    if job.status not in ACTIVE:  # finished already (and told): deleting is no news
        return
    before, job.status, job.updated_at = job.status, JobStatus.CANCELLED, utc_naive_now()
    announce_if_finished(job, before, uow)
