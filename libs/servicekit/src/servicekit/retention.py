"""Pruning the inbox: a consumed event's row is kept only while a duplicate can still come.

Why the retention (14 days by default, never under a day) is safe: an inbox row exists only
to recognise a second delivery of an event whose effect this service has committed. Such
a duplicate comes from (1) the broker, for a delivery whose ack was lost after the commit
(the connection or the process died): redelivered at once on reconnect, at the latest when
the broker's 30-minute consumer timeout takes it back; (2) a held (delayed) event, which
comes back within ``messaging.MAX_DELAY`` (25 minutes); (3) a producer's outbox relay that
published a row and died before marking it: republished at its next round, as soon as the
producer runs again. Every other redelivery (a retry after a failure, a dead letter replayed
by an operator) is of an event this service never committed, so no row guards it. Every
duplicate therefore arrives within minutes, or hours in an outage; a row older than days
guards against nothing that can still happen.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from servicekit.db import Database, utc_naive_now
from servicekit.logs import get_logger
from servicekit.outbox import inbox_table

__all__ = ["MIN_RETENTION", "InboxPruner", "prune_cutoff"]

log = get_logger(__name__)

# Far beyond the longest redelivery window (the broker's 30-minute consumer timeout).
MIN_RETENTION = timedelta(days=1)


def prune_cutoff(now: datetime, retention: timedelta) -> datetime:
    """Inbox rows processed before this moment may go."""
    if retention < MIN_RETENTION:
        raise ValueError(f"an inbox retention under {MIN_RETENTION} could forget a redelivery")
    return now - retention


class InboxPruner:
    """Deletes inbox rows older than ``retention``, ``batch_size`` rows per transaction,
    every ``every``. Replicas may all run it: they only ever delete the same old rows."""

    def __init__(
        self,
        db: Database,
        retention: timedelta,
        *,
        every: timedelta = timedelta(hours=1),
        batch_size: int = 1000,
    ) -> None:
        prune_cutoff(utc_naive_now(), retention)  # refuse a retention that is too short now
        self._db = db
        self._retention = retention
        self._every = every
        self._batch_size = batch_size

    async def prune(self, now: datetime | None = None) -> int:
        """One pass; the number of rows deleted."""
        cutoff = prune_cutoff(now or utc_naive_now(), self._retention)
        deleted = 0
        while True:
            # Ids first (a plain read locks nothing), then a delete by primary key: on a
            # schema without the processed_at index, a DELETE ... WHERE processed_at would
            # lock every row it scans and hold up the consumers' inserts meanwhile.
            async with self._db.sessions() as session, session.begin():
                ids = (
                    await session.execute(
                        select(inbox_table.c.event_id)
                        .where(inbox_table.c.processed_at < cutoff)
                        .limit(self._batch_size)
                    )
                ).scalars()
                batch = list(ids)
                if batch:
                    await session.execute(
                        delete(inbox_table).where(inbox_table.c.event_id.in_(batch))
                    )
            deleted += len(batch)
            if len(batch) < self._batch_size:
                return deleted
            await asyncio.sleep(0)  # others' work between batches

    async def run(self) -> None:
        """Prune now and then every ``every``, until cancelled; survives outages."""
        while True:
            try:
                deleted = await self.prune()
                if deleted:
                    log.info("inbox.pruned", rows=deleted)
            except Exception as exc:  # the database is away: the next round will do
                log.warning("inbox.prune_failed", error=repr(exc))
            await asyncio.sleep(self._every.total_seconds())
