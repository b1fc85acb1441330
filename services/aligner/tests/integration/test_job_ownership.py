"""Per-file runs against a real MariaDB: the plan and its work items commit together, the
first copy of a file to start owns it, and of two replicas finishing a job's last files at
once exactly one publishes AlignmentDone."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import select

from aligner_service.adapters.tables import alignment_files, alignment_runs
from aligner_service.main import MIGRATIONS
from aligner_service.service_layer.align_files import AlignFiles
from contracts import Envelope, FileAlignmentQueued, FilesStored, JobCancelled
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


@dataclass
class Engine:
    name: str = "pocketsphinx"


class Engines:
    def get(self, engine: str | None, language: str | None) -> Engine:
        return Engine()


@dataclass
class SlowAligner:
    """Takes ``seconds`` per file, as an engine would, then 'writes' a result."""

    seconds: float = 0.2
    calls: list[int] = field(default_factory=list)

    async def align(self, *args: Any, **_: Any) -> tuple[Any, dict[str, str]]:
        file: StoredFile = args[4]
        self.calls.append(file.index)
        await asyncio.sleep(self.seconds)

        @dataclass
        class Quality:
            low_quality: bool = False

        @dataclass
        class Result:
            words: list[str] = field(default_factory=lambda: ["w"])
            oov: list[str] = field(default_factory=list)
            quality: Quality = field(default_factory=Quality)

        return Result(), {"json": f"r/{file.corpus_file_id}.json"}


def files(db: Database, worker: str, aligner: SlowAligner) -> AlignFiles:
    return AlignFiles(
        cast(Any, Engines()), cast(Any, aligner), lambda: UnitOfWork(db, "aligner"), 2, worker
    )


def files_stored(n: int) -> Envelope[FilesStored]:
    job_id, user_id = uuid.uuid4(), uuid.uuid4()
    stored = [
        StoredFile(
            corpus_file_id=uuid.uuid4(),
            index=i,
            stem=f"f{i}",
            audio_name=f"f{i}.wav",
            text_name=f"f{i}.txt",
            audio_key=f"{user_id}/{job_id}/{i}.wav",
            text_key=f"{user_id}/{job_id}/{i}.txt",
            duration_seconds=1.0,
            stored_bytes=100,
            audio_sha256="0" * 64,
            expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        )
        for i in range(n)
    ]
    payload = FilesStored(
        job_id=job_id, user_id=user_id, language="en", files=stored, total_bytes=100, priority=5
    )
    return Envelope.wrap(payload, producer="storage", correlation_id="c1")


async def plan(db: Database, service: AlignFiles, envelope: Envelope[FilesStored]) -> None:
    async with UnitOfWork(db, "aligner") as uow:
        await service.plan(envelope, uow)
        await uow.commit()


async def outbox(db: Database, routing_key: str) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(outbox_table.c.body, outbox_table.c.priority).where(
                outbox_table.c.routing_key == routing_key
            )
        )
        return [json.loads(body) | {"_priority": priority} for body, priority in rows]


async def queued(db: Database) -> list[Envelope[FileAlignmentQueued]]:
    return [
        Envelope[FileAlignmentQueued].model_validate({k: v for k, v in row.items() if k[0] != "_"})
        for row in await outbox(db, FileAlignmentQueued.routing_key())
    ]


async def test_a_plan_and_its_work_items_commit_together_once(db: Database) -> None:
    service = files(db, "w1", SlowAligner())
    envelope = files_stored(3)
    await plan(db, service, envelope)
    await plan(db, service, envelope)  # redelivered: nothing more
    items = await outbox(db, FileAlignmentQueued.routing_key())
    assert sorted(i["payload"]["file"]["index"] for i in items) == [0, 1, 2]
    assert {i["_priority"] for i in items} == {5}
    async with db.sessions() as session:
        states = (await session.execute(select(alignment_files.c.state))).scalars().all()
    assert sorted(states) == ["PENDING"] * 3


async def test_two_replicas_finishing_the_last_files_at_once_publish_one_done(
    db: Database,
) -> None:
    envelope = files_stored(4)
    await plan(db, files(db, "w0", SlowAligner()), envelope)
    items = await queued(db)
    replicas = [files(db, f"w{i}", SlowAligner(seconds=0.1 * (i % 2))) for i in range(4)]
    await asyncio.gather(*(r.align(item) for r, item in zip(replicas, items, strict=True)))
    done = await outbox(db, "alignment.done.v1")
    assert len(done) == 1
    assert done[0]["payload"]["status"] == "COMPLETED"
    async with db.sessions() as session:
        rows = (await session.execute(select(alignment_files))).all()
        run = (await session.execute(select(alignment_runs))).one()
    assert sorted(r.worker for r in rows) == ["w0", "w1", "w2", "w3"]
    assert all((r.state, r.attempts) == ("ALIGNED", 1) for r in rows)
    assert (run.status, run.files_aligned) == ("COMPLETED", 4)


async def test_the_first_copy_to_start_owns_the_file_and_a_redelivery_is_an_attempt(
    db: Database,
) -> None:
    envelope = files_stored(1)
    aligner = SlowAligner(seconds=0.3)
    service = files(db, "w1", aligner)
    await plan(db, service, envelope)
    [original] = await queued(db)
    promoted = original.model_copy(update={"event_id": uuid.uuid4()})
    await asyncio.gather(service.align(promoted), asyncio.sleep(0.05))
    await service.align(original)  # dropped: the file is done
    assert aligner.calls == [0]
    assert len(await outbox(db, "alignment.done.v1")) == 1

    crashed = files_stored(1)
    await plan(db, service, crashed)
    [item] = [q for q in await queued(db) if q.payload.job_id == crashed.payload.job_id]
    task = asyncio.create_task(service.align(item))
    await asyncio.sleep(0.1)
    task.cancel()  # as a lost connection does: the attempt is taken back
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.sessions() as session:
        attempts = (
            await session.execute(
                select(alignment_files.c.attempts).where(
                    alignment_files.c.job_id == crashed.payload.job_id
                )
            )
        ).scalar_one()
    assert attempts == 0


async def test_a_job_deleted_before_its_files_were_stored_is_never_planned(db: Database) -> None:
    service = files(db, "w1", SlowAligner())
    envelope = files_stored(2)
    job = envelope.payload
    async with UnitOfWork(db, "aligner") as uow:
        await service.cancel(JobCancelled(job_id=job.job_id, user_id=job.user_id), uow)
        await uow.commit()
    await plan(db, service, envelope)
    assert await outbox(db, FileAlignmentQueued.routing_key()) == []
    assert await outbox(db, "alignment.done.v1") == []


async def test_a_duplicate_of_a_running_files_message_does_not_start_it_again(
    db: Database,
) -> None:
    """An outbox relay that crashed mid-batch sends its batch again: the copy of a file
    being aligned elsewhere is dropped, not a second attempt beside the first."""
    aligner = SlowAligner(seconds=0.5)
    envelope = files_stored(1)
    await plan(db, files(db, "w1", aligner), envelope)
    [item] = await queued(db)
    first = asyncio.create_task(files(db, "w1", aligner).align(item))
    await asyncio.sleep(0.2)
    await files(db, "w2", aligner).align(item)  # the duplicate, while w1 aligns
    await first
    assert aligner.calls == [0]
    async with db.sessions() as session:
        row = (await session.execute(select(alignment_files))).one()
    assert (row.state, row.attempts, row.worker) == ("ALIGNED", 1, "w1")
    assert len(await outbox(db, "alignment.done.v1")) == 1
