"""Per-pair ingest against a real MariaDB: the plan and its work items commit together, of
two replicas finishing a job's last pairs at once exactly one publishes FilesStored, a
finished pair delivered again does nothing, and a deletion (before or during the plan)
stops the pairs not started."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import func, insert, select

from contracts import Envelope, JobCancelled, JobSubmitted, PairIngestQueued, SubmittedPair
from servicekit import utc_naive_now
from servicekit.db import Database
from servicekit.migrations import upgrade_to_head
from servicekit.outbox import UnitOfWork, outbox_table
from storage_service.adapters.tables import (
    cancelled_jobs,
    corpus_files,
    file_storage_metadata,
    ingest_pairs,
    ingest_runs,
)
from storage_service.domain.ingests import StoredPair
from storage_service.main import MIGRATIONS
from storage_service.service_layer.ingest import Ingest
from storage_service.service_layer.lifecycle import forget_user

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(scratch_schema_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, scratch_schema_url)
    database = Database(scratch_schema_url)
    yield database
    await database.dispose()


@dataclass
class SlowStorer:
    """Takes ``seconds`` per pair, as ffmpeg and the transfers would."""

    seconds: float = 0.2
    calls: list[int] = field(default_factory=list)

    async def store(self, user_id: uuid.UUID, job_id: uuid.UUID, pair: SubmittedPair) -> Any:
        self.calls.append(pair.index)
        await asyncio.sleep(self.seconds)
        return StoredPair(
            duration_seconds=1.5 + pair.index,
            audio_bytes=48_000,
            text_bytes=12,
            audio_sha256=f"{pair.index:064d}",
            text_sha256="f" * 64,
        )


@dataclass
class Objects:
    deleted: list[str] = field(default_factory=list)

    async def delete(self, keys: list[str]) -> None:
        self.deleted += keys

    async def delete_prefix(self, prefix: str) -> int:
        self.deleted.append(prefix)
        return 0


def ingest(db: Database, worker: str, storer: SlowStorer, objects: Objects | None = None) -> Ingest:
    return Ingest(
        cast(Any, storer),
        cast(Any, objects or Objects()),
        lambda: UnitOfWork(db, "storage"),
        timedelta(days=30),
        2,
        worker,
    )


def job_submitted(n: int) -> Envelope[JobSubmitted]:
    job_id, user_id = uuid.uuid4(), uuid.uuid4()
    pairs = [
        SubmittedPair(
            file_id=uuid.uuid4(),
            index=i,
            stem=f"f{i}",
            audio_name=f"f{i}.wav",
            audio_key=f"incoming/{user_id}/{job_id}/audio_files-{i}",
            audio_bytes=100,
            text_name=f"f{i}.txt",
            text_key=f"incoming/{user_id}/{job_id}/text_files-{i}",
            text_bytes=10,
        )
        for i in range(n)
    ]
    payload = JobSubmitted(
        job_id=job_id, user_id=user_id, language="en", priority=5, retention_days=7, pairs=pairs
    )
    return Envelope.wrap(payload, producer="gateway", correlation_id="c1")


async def plan(db: Database, service: Ingest, envelope: Envelope[JobSubmitted]) -> None:
    async with UnitOfWork(db, "storage") as uow:
        await service.plan(envelope, uow)
        await uow.commit()


async def cancel(db: Database, service: Ingest, envelope: Envelope[JobSubmitted]) -> None:
    job = envelope.payload
    event = JobCancelled(job_id=job.job_id, user_id=job.user_id)
    async with UnitOfWork(db, "storage") as uow:
        await service.cancel(Envelope.wrap(event, producer="gateway", correlation_id="d"), uow)
        await uow.commit()


async def outbox(db: Database, routing_key: str) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(outbox_table.c.body, outbox_table.c.priority)
            .where(outbox_table.c.routing_key == routing_key)
            .order_by(outbox_table.c.id)
        )
        return [json.loads(body) | {"_priority": priority} for body, priority in rows]


async def queued(db: Database, job_id: uuid.UUID) -> list[Envelope[PairIngestQueued]]:
    items = [
        Envelope[PairIngestQueued].model_validate({k: v for k, v in row.items() if k[0] != "_"})
        for row in await outbox(db, PairIngestQueued.routing_key())
    ]
    return [item for item in items if item.payload.job_id == job_id]


async def count(db: Database, column: Any, *where: Any) -> int:
    async with db.sessions() as session:
        return int((await session.execute(select(func.count(column)).where(*where))).scalar_one())


async def test_a_plan_and_its_work_items_commit_together_once(db: Database) -> None:
    service = ingest(db, "w1", SlowStorer())
    envelope = job_submitted(3)
    await plan(db, service, envelope)
    await plan(db, service, envelope)  # redelivered: nothing more
    items = await outbox(db, PairIngestQueued.routing_key())
    assert sorted(i["payload"]["pair"]["index"] for i in items) == [0, 1, 2]
    assert {i["_priority"] for i in items} == {5}
    async with db.sessions() as session:
        states = (await session.execute(select(ingest_pairs.c.state))).scalars().all()
        run = (await session.execute(select(ingest_runs))).one()
    assert sorted(states) == ["PENDING"] * 3
    assert (run.status, run.pairs_total, run.priority) == ("INGESTING", 3, 5)


async def test_two_replicas_finishing_the_last_pairs_at_once_publish_one_files_stored(
    db: Database,
) -> None:
    envelope = job_submitted(4)
    job = envelope.payload
    await plan(db, ingest(db, "w0", SlowStorer()), envelope)
    items = await queued(db, job.job_id)
    objects = Objects()
    replicas = [ingest(db, f"w{i}", SlowStorer(seconds=0.1 * (i % 2)), objects) for i in range(4)]
    await asyncio.gather(*(r.store(item) for r, item in zip(replicas, items, strict=True)))

    [stored] = await outbox(db, "files.stored.v1")
    assert stored["_priority"] == 5 and stored["correlation_id"] == "c1"
    payload = stored["payload"]
    assert [f["index"] for f in payload["files"]] == [0, 1, 2, 3]
    assert [f["duration_seconds"] for f in payload["files"]] == [1.5, 2.5, 3.5, 4.5]
    assert payload["total_bytes"] == 4 * 48_012 and payload["rejected"] == []
    assert payload["files"][2]["audio_sha256"] == f"{2:064d}"
    assert await outbox(db, "files.rejected.v1") == []
    async with db.sessions() as session:
        pairs = (await session.execute(select(ingest_pairs))).all()
        run = (await session.execute(select(ingest_runs))).one()
    assert sorted(p.worker for p in pairs) == ["w0", "w1", "w2", "w3"]
    assert all((p.state, p.attempts) == ("STORED", 1) for p in pairs)
    assert run.status == "STORED" and run.finished_at is not None
    assert await count(db, corpus_files.c.id, corpus_files.c.job_id == job.job_id) == 4
    assert await count(db, file_storage_metadata.c.corpus_file_id) == 8
    uploads = {k for p in job.pairs for k in (p.audio_key, p.text_key)}
    assert set(objects.deleted) == uploads

    # A finished pair delivered again (say its ack was lost): nothing happens.
    again = SlowStorer()
    await ingest(db, "w9", again, objects).store(items[1])
    assert again.calls == []
    assert len(await outbox(db, "files.stored.v1")) == 1
    assert await count(db, corpus_files.c.id) == 4 and len(objects.deleted) == len(uploads)
    async with db.sessions() as session:
        attempts = (await session.execute(select(ingest_pairs.c.attempts))).scalars().all()
    assert attempts == [1] * 4


async def test_a_deletion_mid_ingest_stops_the_pairs_not_started(db: Database) -> None:
    storer = SlowStorer(seconds=0)
    service = ingest(db, "w1", storer)
    envelope = job_submitted(3)
    job = envelope.payload
    await plan(db, service, envelope)
    first, second, third = await queued(db, job.job_id)
    await service.store(first)
    await cancel(db, service, envelope)
    await service.store(second)
    await service.store(third)
    assert storer.calls == [0]
    [stored] = await outbox(db, "files.stored.v1")
    assert [f["index"] for f in stored["payload"]["files"]] == [0]
    assert [r["code"] for r in stored["payload"]["rejected"]] == ["cancelled", "cancelled"]
    assert await count(db, cancelled_jobs.c.job_id, cancelled_jobs.c.job_id == job.job_id) == 1


async def test_a_deletion_committed_while_the_job_was_planned_still_stops_it(
    db: Database,
) -> None:
    """The JobCancelled found no run yet (the plan had not committed): the pairs see the
    deletion when they start."""
    storer = SlowStorer(seconds=0)
    service = ingest(db, "w1", storer)
    envelope = job_submitted(2)
    job = envelope.payload
    await plan(db, service, envelope)
    async with db.sessions() as session, session.begin():
        await session.execute(
            insert(cancelled_jobs).values(
                job_id=job.job_id, user_id=job.user_id, cancelled_at=utc_naive_now()
            )
        )
    for item in await queued(db, job.job_id):
        await service.store(item)
    assert storer.calls == []
    [rejected] = await outbox(db, "files.rejected.v1")
    assert [r["code"] for r in rejected["payload"]["rejected"]] == ["cancelled", "cancelled"]
    async with db.sessions() as session:
        run = (await session.execute(select(ingest_runs))).one()
    assert run.status == "REJECTED" and run.cancelled_at is not None


async def test_a_cut_attempt_is_taken_back_and_account_deletion_removes_the_rows(
    db: Database,
) -> None:
    storer = SlowStorer(seconds=0.5)
    service = ingest(db, "w1", storer)
    envelope = job_submitted(2)
    job = envelope.payload
    await plan(db, service, envelope)
    first, second = await queued(db, job.job_id)
    task = asyncio.create_task(service.store(first))
    await asyncio.sleep(0.1)
    task.cancel()  # as a lost connection does
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.sessions() as session:
        rows = (await session.execute(select(ingest_pairs.c.state, ingest_pairs.c.attempts))).all()
    assert sorted(tuple(r) for r in rows) == [("PENDING", 0), ("PENDING", 0)]

    await ingest(db, "w1", SlowStorer(seconds=0)).store(second)
    objects = Objects()
    async with UnitOfWork(db, "storage") as uow:  # UserDeleted
        await forget_user(job.user_id, uow, cast(Any, objects))
        await uow.commit()
    for column in (ingest_runs.c.job_id, ingest_pairs.c.file_id, corpus_files.c.id):
        assert await count(db, column) == 0
    assert f"{job.user_id}/" in objects.deleted
