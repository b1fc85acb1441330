"""Inbox pruning on a real MariaDB: old rows go in bounded batches, recent ones stay and
still turn a redelivery away."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text

from contracts import Envelope, UserRegistered
from servicekit.db import Database, utc_naive_now
from servicekit.outbox import UnitOfWork, inbox_table
from servicekit.retention import InboxPruner

pytestmark = pytest.mark.integration


async def inbox_ids(db: Database) -> set[str]:
    async with db.sessions() as session:
        return set((await session.execute(select(inbox_table.c.event_id))).scalars())


async def add_rows(db: Database, count: int, age: timedelta) -> set[str]:
    at = utc_naive_now() - age
    rows = [
        {"event_id": str(uuid.uuid4()), "event_type": "user.registered.v1", "processed_at": at}
        for _ in range(count)
    ]
    async with db.sessions() as session, session.begin():
        await session.execute(insert(inbox_table), rows)
    return {str(r["event_id"]) for r in rows}


async def test_rows_past_the_retention_go_in_batches_and_recent_ones_stay(db: Database) -> None:
    old = await add_rows(db, 25, timedelta(days=15))
    recent = await add_rows(db, 5, timedelta(days=13))
    pruner = InboxPruner(db, timedelta(days=14), batch_size=10)

    assert await pruner.prune() == 25  # three batches: 10, 10, 5
    assert await inbox_ids(db) == recent
    assert await pruner.prune() == 0
    later = utc_naive_now() + timedelta(days=2)
    assert await pruner.prune(now=later) == 5
    assert old.isdisjoint(await inbox_ids(db))


async def test_a_redelivery_within_the_retention_is_still_recognised(db: Database) -> None:
    envelope = Envelope.wrap(UserRegistered(user_id=uuid.uuid4()), producer="t", correlation_id="c")
    async with UnitOfWork(db, "t") as uow:
        assert await uow.claim(envelope)  # type: ignore[arg-type]
        await uow.commit()
    await InboxPruner(db, timedelta(days=1)).prune()
    async with UnitOfWork(db, "t") as uow:
        assert not await uow.claim(envelope)  # type: ignore[arg-type]


async def test_pruning_reads_an_index_on_processed_at(db: Database) -> None:
    async with db.sessions() as session:
        rows = (await session.execute(text("SHOW INDEX FROM inbox"))).mappings().all()
    assert {"ix_inbox_processed_at"} <= {r["Key_name"] for r in rows}
