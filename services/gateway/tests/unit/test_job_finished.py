"""JobFinished: once per final state, carrying the job exactly as the API shows it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

import pytest

from contracts import Event, JobFinished
from contracts.notifications import WebhookEventType
from gateway_service.adapters.repository import FileRecord, JobRecord
from gateway_service.api.views import job_out
from gateway_service.domain.jobs import FileStatus, JobStatus
from gateway_service.domain.notifications import finished_event
from gateway_service.service_layer.notifications import (
    announce_cancelled,
    announce_if_finished,
    job_view,
)
from servicekit import UnitOfWork
from servicekit.fakes import FakeUnitOfWork

NOW = datetime(2026, 11, 30, 12, 0, 0)


def job(status: JobStatus = JobStatus.COMPLETED) -> JobRecord:
    return JobRecord(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        status=status,
        progress=100,
        language="en",
        engine=None,
        options={"output": "json"},
        error=None,
        created_at=NOW,
        updated_at=NOW,
        files=[
            FileRecord(
                id=uuid.uuid4(),
                file_index=0,
                stem="spk/a",
                audio_name="spk/a.wav",
                text_name="spk/a.txt",
                status=FileStatus.ALIGNED,
                duration=2.5,
                word_count=7,
                oov_count=0,
                low_quality=False,
            )
        ],
    )


def test_the_payload_is_the_job_as_the_api_shows_it() -> None:
    record = job()
    assert job_view(record).model_dump(mode="json") == job_out(record).model_dump(mode="json")


@pytest.mark.parametrize(
    ("before", "after", "event"),
    [
        (JobStatus.PROCESSING, JobStatus.COMPLETED, WebhookEventType.JOB_COMPLETED),
        (JobStatus.STORED, JobStatus.FAILED, WebhookEventType.JOB_FAILED),
        (JobStatus.PENDING, JobStatus.FAILED, WebhookEventType.JOB_FAILED),
        (JobStatus.COMPLETED, JobStatus.EXPIRED, WebhookEventType.JOB_EXPIRED),
        (JobStatus.PROCESSING, JobStatus.CANCELLED, WebhookEventType.JOB_CANCELLED),
        (JobStatus.COMPLETED, JobStatus.COMPLETED, None),  # a late event: no news
        (JobStatus.STORED, JobStatus.PROCESSING, None),
        (JobStatus.PENDING, JobStatus.PENDING, None),
    ],
)
def test_each_final_state_is_told_once(
    before: JobStatus, after: JobStatus, event: WebhookEventType | None
) -> None:
    assert finished_event(before, after) == event


async def test_reaching_a_final_state_emits_job_finished_on_commit() -> None:
    outbox: list[tuple[Event, int | None]] = []
    uow = cast(UnitOfWork, FakeUnitOfWork(outbox))
    record = job()
    announce_if_finished(record, JobStatus.PROCESSING, uow)
    announce_if_finished(record, JobStatus.COMPLETED, uow)  # the same state again: nothing
    await uow.commit()
    ((event, _),) = outbox
    assert isinstance(event, JobFinished)
    assert (event.job_id, event.user_id, event.event) == (
        record.id,
        record.user_id,
        WebhookEventType.JOB_COMPLETED,
    )
    assert event.job.files[0].audio_name == "spk/a.wav"


async def test_deleting_a_running_job_tells_cancelled_and_a_finished_one_nothing() -> None:
    outbox: list[tuple[Event, int | None]] = []
    uow = cast(UnitOfWork, FakeUnitOfWork(outbox))
    running = job(JobStatus.PROCESSING)
    announce_cancelled(running, uow)
    announce_cancelled(job(JobStatus.COMPLETED), uow)
    await uow.commit()
    ((event, _),) = outbox
    assert isinstance(event, JobFinished)
    assert event.event is WebhookEventType.JOB_CANCELLED
    assert event.job.status == "CANCELLED"
