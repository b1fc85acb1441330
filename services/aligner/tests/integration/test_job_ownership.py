"""Which delivery of a job runs it, against a real MariaDB: a job reaches the aligner as its
FilesStored and, after a long wait, as a promoted copy; it may also be deleted first."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import select

from aligner_service.adapters.tables import alignment_runs
from aligner_service.engines.registry import EngineRegistry
from aligner_service.main import MIGRATIONS
from aligner_service.service_layer.align_job import AlignJobs
from contracts import Envelope, FilesStored, JobCancelled
from contracts.files import StoredFile
from servicekit.db import Database
from servicekit.migrations import upgrade_to_head
from servicekit.outbox import UnitOfWork, outbox_table

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(scratch_schema_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, scratch_schema_url)
    database = Database(scratch_schema_url)
    yield database
    await database.dispose()


def jobs(db: Database) -> AlignJobs:
    # No engine is installed: every attempt that does run fails fast, and says so.
    engines = EngineRegistry({}, "pocketsphinx")
    return AlignJobs(engines, cast(Any, None), lambda: UnitOfWork(db, "aligner"), 2)


def files_stored() -> Envelope[FilesStored]:
    job_id, user_id, file_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    stored = StoredFile(
        corpus_file_id=file_id,
        index=0,
        stem="a",
        audio_name="a.wav",
        text_name="a.txt",
        audio_key=f"{user_id}/{job_id}/a.wav",
        text_key=f"{user_id}/{job_id}/a.txt",
        duration_seconds=1.0,
        stored_bytes=100,
        audio_sha256="0" * 64,
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    payload = FilesStored(
        job_id=job_id, user_id=user_id, language="en", files=[stored], total_bytes=100
    )
    return Envelope.wrap(payload, producer="storage", correlation_id="c1")


async def deliver(db: Database, envelope: Envelope[FilesStored]) -> None:
    async with UnitOfWork(db, "aligner") as uow:
        await jobs(db).handle(envelope, uow)
        await uow.commit()


async def run_of(db: Database, envelope: Envelope[FilesStored]) -> tuple[str, int, str]:
    async with db.sessions() as session:
        runs = alignment_runs.c
        query = select(runs.status, runs.attempts, runs.event_id)
        row = (await session.execute(query.where(runs.job_id == envelope.payload.job_id))).one()
    return row.status, row.attempts, row.event_id


async def routing_keys(db: Database) -> list[str]:
    async with db.sessions() as session:
        return list((await session.execute(select(outbox_table.c.routing_key))).scalars())


async def test_the_copy_that_starts_first_owns_the_job(db: Database) -> None:
    original = files_stored()
    promoted = original.model_copy(update={"event_id": uuid.uuid4()})
    await deliver(db, original)
    assert await run_of(db, original) == ("FAILED", 1, str(original.event_id))
    await deliver(db, promoted)  # dropped: no second attempt, no second outcome
    assert await run_of(db, original) == ("FAILED", 1, str(original.event_id))
    assert await routing_keys(db) == ["alignment.done.v1"]
    await deliver(db, original)  # but a redelivery of the owner is another attempt
    assert (await run_of(db, original))[1] == 2


async def test_a_job_deleted_before_it_starts_never_starts(db: Database) -> None:
    job = files_stored()
    async with UnitOfWork(db, "aligner") as uow:
        cancelled = JobCancelled(job_id=job.payload.job_id, user_id=job.payload.user_id)
        await jobs(db).cancel(cancelled, uow)
        await uow.commit()
    await deliver(db, job)
    status, attempts, _ = await run_of(db, job)
    assert (status, attempts) == ("CANCELLED", 0)
    assert await routing_keys(db) == []  # no AlignmentStarted, no AlignmentDone
