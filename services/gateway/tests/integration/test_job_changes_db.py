"""The change feed on a real MariaDB: two gateway replicas share the read model and their
queues (competing consumers), so a stream must see the changes the other one handled.
Here "this replica" is a feed whose handlers publish to it, "the other" applies events
without it; the shared poll's statements are counted as on ``/metrics``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from contracts import AlignmentDone, AlignmentOutcome, AlignmentProgress, AlignmentStarted
from contracts.alignment import FileOutcome
from gateway_service.adapters.repository import FileRecord, JobRecord, JobRepository
from gateway_service.adapters.watched_jobs import STREAM_QUERIES, WatchedJobs
from gateway_service.domain.jobs import FileStatus, JobStatus
from gateway_service.main import MIGRATIONS
from gateway_service.service_layer.job_changes import ChangeKind, JobChanges
from gateway_service.service_layer.read_model import Fact, apply_event
from servicekit import utc_naive_now
from servicekit.db import Database
from servicekit.migrations import upgrade_to_head
from servicekit.outbox import UnitOfWork

pytestmark = pytest.mark.integration

FILES = 40


@pytest.fixture
async def db(scratch_schema_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, scratch_schema_url)
    database = Database(scratch_schema_url)
    yield database
    await database.dispose()


async def add_job(db: Database) -> JobRecord:
    now = utc_naive_now()
    job = JobRecord(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        status=JobStatus.STORED,
        progress=5,
        language="en",
        engine=None,
        options={},
        error=None,
        created_at=now,
        updated_at=now,
        files=[
            FileRecord(uuid.uuid4(), i, f"f{i}", f"f{i}.wav", f"f{i}.txt", FileStatus.STORED)
            for i in range(FILES)
        ],
    )
    async with UnitOfWork(db, "gateway") as uow:
        await JobRepository(uow.session).add(job, None)
        await uow.commit()
    return job


async def handle(db: Database, fact: Fact, changes: JobChanges | None) -> None:
    """A gateway replica's handler: ``changes`` is its feed (None: another replica)."""
    async with UnitOfWork(db, "gateway") as uow:
        await apply_event(fact, uow, changes)
        await uow.commit()


def progress(job: JobRecord, index: int, percent: int) -> AlignmentProgress:
    return AlignmentProgress(
        job_id=job.id,
        user_id=job.user_id,
        corpus_file_id=job.files[index].id,
        file_status="COMPLETED",
        files_done=index + 1,
        files_total=FILES,
        percent=percent,
    )


def queries() -> float:
    kinds = ("versions", "jobs", "files")
    return float(sum(STREAM_QUERIES.labels(kind)._value.get() for kind in kinds))


async def test_streams_see_changes_handled_here_at_once_and_elsewhere_by_the_poll(
    db: Database,
) -> None:
    job = await add_job(db)
    feed = JobChanges(WatchedJobs(lambda: UnitOfWork(db, "gateway")))
    looked_up = await feed.lookup(job.user_id, job.id)
    assert looked_up is not None and len(looked_up.files) == FILES
    assert await feed.lookup(uuid.uuid4(), job.id) is None
    with feed.subscribe(looked_up) as first, feed.subscribe(looked_up) as second:
        streams = [first, second]
        for s in streams:
            assert (await s.next()).kind is ChangeKind.WHOLE
        # Handled by this replica: the streams hear it on commit, before any poll.
        await handle(
            db,
            AlignmentStarted(
                job_id=job.id,
                user_id=job.user_id,
                engine="pocketsphinx",
                attempt=1,
                file_count=FILES,
            ),
            feed,
        )
        for s in streams:
            change = await asyncio.wait_for(s.next(), timeout=0.1)
            assert change.job is not None
            assert change.job.status is JobStatus.PROCESSING and len(change.files) == FILES
        # Its poll finds the version it holds (the row's updated_at is the saved job's):
        # no reload, nothing to send.
        before = queries()
        await feed.poll()
        await feed.poll()
        assert queries() - before == 1 + 1  # versions, then versions
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(first.next(), timeout=0.05)
        # Handled by the other replica: the next poll brings it, only what changed.
        await handle(db, progress(job, 3, 30), None)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(first.next(), timeout=0.05)
        await feed.poll()
        for s in streams:
            change = await asyncio.wait_for(s.next(), timeout=0.1)
            assert change.kind is ChangeKind.DELTA and change.job is not None
            assert change.job.progress == 30
            assert [f.file_index for f in change.files] == [3]
            assert change.files[0].status is FileStatus.ALIGNED
        done = AlignmentDone(
            job_id=job.id,
            user_id=job.user_id,
            status=AlignmentOutcome.COMPLETED,
            engine="pocketsphinx",
            files=[
                FileOutcome(corpus_file_id=f.id, status=AlignmentOutcome.COMPLETED)
                for f in job.files
            ],
        )
        await handle(db, done, None)
        await feed.poll()
        change = await asyncio.wait_for(first.next(), timeout=0.1)
        assert change.job is not None
        assert change.job.status is JobStatus.COMPLETED and change.job.progress == 100
        assert len(change.files) == FILES  # file 3 too: its counts and results came
        # Deleted (by the other replica's API): the poll finds it gone.
        async with UnitOfWork(db, "gateway") as uow:
            assert await JobRepository(uow.session).delete(job.user_id, job.id)
            await uow.commit()
        await feed.poll()
        assert (await asyncio.wait_for(second.next(), timeout=0.1)).kind is ChangeKind.DELETED


async def test_the_poll_costs_one_query_whatever_the_number_of_streams(db: Database) -> None:
    jobs = [await add_job(db) for _ in range(3)]
    feed = JobChanges(WatchedJobs(lambda: UnitOfWork(db, "gateway")))

    async def poll_cost(streams_per_job: int) -> float:
        with_streams = [feed.subscribe(j) for j in jobs for _ in range(streams_per_job)]
        for subscription in with_streams:
            subscription.__enter__()
        try:
            before = queries()
            for _ in range(5):
                await feed.poll()
            return queries() - before
        finally:
            for subscription in with_streams:
                subscription.__exit__(None, None, None)

    assert await poll_cost(1) == 5
    assert await poll_cost(300) == 5
    assert feed.watched == frozenset()
