"""Transactional outbox and inbox.

Events are written to ``outbox`` in the same transaction as the state change that caused
them and published afterwards by :class:`OutboxRelay`; consumers record each handled
``event_id`` in ``inbox`` in the same transaction as its effect. Together: a crash between
any two steps loses nothing and does nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import uuid5

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import Envelope, Event
from servicekit.db import Database, LongText, Timestamp, utc_naive_now
from servicekit.logs import get_logger
from servicekit.metrics import (
    EVENTS_PUBLISHED,
    OUTBOX_OLDEST_PENDING_SECONDS,
    OUTBOX_PENDING,
    OUTBOX_PUBLISH_FAILURES,
    OUTBOX_PUBLISH_LAG_SECONDS,
)
from servicekit.tracing import MAX_TRACE_CONTEXT, attached, recorded_trace_context

__all__ = [
    "OutboxMessage",
    "OutboxRelay",
    "OutboxStats",
    "UnitOfWork",
    "inbox_table",
    "kit_metadata",
    "outbox_table",
]

log = get_logger(__name__)

kit_metadata = MetaData()

outbox_table = Table(
    "outbox",
    kit_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("routing_key", String(128), nullable=False),
    Column("correlation_id", String(128), nullable=False),
    Column("priority", SmallInteger, nullable=True),
    Column("body", LongText, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("published_at", Timestamp, nullable=True, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(500), nullable=True),
    # The W3C trace context (JSON) current when the event was recorded, so that its
    # publication, later, continues the same trace (kit migration v3; null when untraced).
    Column("trace_context", String(MAX_TRACE_CONTEXT), nullable=True),
)

inbox_table = Table(
    "inbox",
    kit_metadata,
    Column("event_id", String(36), primary_key=True),
    Column("event_type", String(128), nullable=False),
    # Indexed for pruning (servicekit.retention), from kit migration v2.
    Column("processed_at", Timestamp, nullable=False, index=True),
)


@dataclass(frozen=True)
class OutboxMessage:
    event_id: str
    routing_key: str
    correlation_id: str
    priority: int | None
    body: str
    # When the event was committed (naive UTC): the message's AMQP timestamp.
    created_at: datetime | None = None
    trace_context: str | None = None


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    oldest_pending_seconds: float


Publish = Callable[[OutboxMessage], Awaitable[None]]


class UnitOfWork:
    """A transaction on the service's schema that can also emit and claim events."""

    def __init__(self, db: Database, producer: str, on_commit: Callable[[], None] | None = None):
        self._db = db
        self._producer = producer
        self._on_commit = on_commit
        self._outbox_rows: list[dict[str, object]] = []
        self._after_commit: list[Callable[[], Awaitable[None]]] = []
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        self.session = self._db.sessions()
        await self.session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.session.in_transaction():
            await self.session.rollback()
        await self.session.close()

    def emit(
        self, payload: Event, *, correlation_id: str, priority: int | None = None
    ) -> Envelope[Event]:
        """Queue an event; it is published only if this unit of work commits."""
        envelope = Envelope.wrap(payload, producer=self._producer, correlation_id=correlation_id)
        self._outbox_rows.append(
            {
                "event_id": str(envelope.event_id),
                "routing_key": envelope.routing_key,
                "correlation_id": correlation_id,
                "priority": priority,
                "body": envelope.model_dump_json(),
                "created_at": utc_naive_now(),
                "attempts": 0,
                "trace_context": recorded_trace_context(),
            }
        )
        return envelope

    async def claim(self, envelope: Envelope[Event], *, scope: str | None = None) -> bool:
        """Record the event as handled; False when it already was (a redelivery).
        ``scope`` keeps apart two handlers of one event in the same service."""
        key = envelope.event_id if scope is None else uuid5(envelope.event_id, scope)
        result = await self.session.execute(
            insert(inbox_table)
            .prefix_with("IGNORE")
            .values(
                event_id=str(key),
                event_type=envelope.routing_key,
                processed_at=utc_naive_now(),
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` once the commit succeeded (best effort: for clean-ups that may
        safely be lost, such as deleting objects nothing refers to any more)."""
        self._after_commit.append(action)

    async def commit(self) -> None:
        if self._outbox_rows:
            await self.session.execute(insert(outbox_table), self._outbox_rows)
        await self.session.commit()
        emitted, self._outbox_rows = bool(self._outbox_rows), []
        if emitted and self._on_commit:
            self._on_commit()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            try:
                await action()
            except Exception as exc:  # the state is committed; a clean-up may fail alone
                log.warning("after_commit.failed", error=repr(exc))


class OutboxRelay:
    """Publishes committed outbox rows in order, with confirms; retries what fails.

    Several replicas may run it: rows are taken with ``FOR UPDATE SKIP LOCKED``.
    """

    def __init__(
        self,
        db: Database,
        publish: Publish,
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 100,
        keep_published: timedelta = timedelta(days=7),
    ) -> None:
        self._db = db
        self._publish = publish
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._keep_published = keep_published
        self._wake = asyncio.Event()
        self._stopping = False

    def kick(self) -> None:
        """Publish now rather than at the next poll (called after a commit)."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows went out."""
        published = 0
        async with self._db.sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(outbox_table)
                    .where(outbox_table.c.published_at.is_(None))
                    .order_by(outbox_table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                message = OutboxMessage(
                    row.event_id,
                    row.routing_key,
                    row.correlation_id,
                    row.priority,
                    row.body,
                    row.created_at,
                    row.trace_context,
                )
                try:
                    with attached(message.trace_context):
                        await self._publish(message)
                except Exception as exc:  # the broker is down or refused: retry later
                    OUTBOX_PUBLISH_FAILURES.inc()
                    await session.execute(
                        update(outbox_table)
                        .where(outbox_table.c.id == row.id)
                        .values(attempts=row.attempts + 1, last_error=repr(exc)[:500])
                    )
                    log.warning("outbox.publish_failed", event_id=row.event_id, error=repr(exc))
                    break  # keep order: nothing after a failed row goes out before it
                published_at = utc_naive_now()
                await session.execute(
                    update(outbox_table)
                    .where(outbox_table.c.id == row.id)
                    .values(published_at=published_at)
                )
                EVENTS_PUBLISHED.labels(event_type=row.routing_key).inc()
                lag = (published_at - row.created_at).total_seconds()
                OUTBOX_PUBLISH_LAG_SECONDS.observe(max(0.0, lag))
                published += 1
        return published

    async def pending_count(self) -> int:
        return (await self.stats()).pending

    async def stats(self) -> OutboxStats:
        """Rows waiting and the age of the oldest (one indexed query)."""
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(outbox_table.c.created_at)).where(
                        outbox_table.c.published_at.is_(None)
                    )
                )
            ).one()
        count, oldest = int(row[0] or 0), row[1]
        age = (utc_naive_now() - oldest).total_seconds() if oldest is not None else 0.0
        return OutboxStats(count, max(0.0, age))

    async def sample(self) -> None:
        """Sets the ``outbox_pending`` and ``outbox_oldest_pending_seconds`` gauges."""
        stats = await self.stats()
        OUTBOX_PENDING.set(stats.pending)
        OUTBOX_OLDEST_PENDING_SECONDS.set(stats.oldest_pending_seconds)

    async def prune(self) -> None:
        cutoff = utc_naive_now() - self._keep_published
        async with self._db.sessions() as session, session.begin():
            await session.execute(delete(outbox_table).where(outbox_table.c.published_at < cutoff))

    async def run(self) -> None:
        """Loop until :meth:`stop`; survives database and broker outages."""
        failures = 0
        rounds = 0
        while not self._stopping:
            self._wake.clear()
            try:
                published = await self.publish_pending()
                failures = 0
                rounds += 1
                if rounds % 1000 == 0:
                    await self.prune()
                if published == self._batch_size:
                    continue
            except Exception as exc:
                failures += 1
                log.warning("outbox.relay_error", error=repr(exc), failures=failures)
            delay = min(self._poll_seconds * (2 ** min(failures, 6)), 30.0)
            with contextlib.suppress(TimeoutError):  # a timeout is just the next poll
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
