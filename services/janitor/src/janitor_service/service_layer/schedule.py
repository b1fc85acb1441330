"""The janitor's schedule: the daily cleanup and the sweep of incoming/ every few minutes,
each run by one replica at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta

from sqlalchemy import text

from servicekit import Database, get_logger, utc_naive_now

__all__ = ["next_run", "run_daily", "run_every"]

log = get_logger(__name__)


def next_run(now: datetime, at: time) -> datetime:
    """The first moment at ``at`` (UTC) strictly after ``now``."""
    candidate = datetime.combine(now.date(), at)
    return candidate if candidate > now else candidate + timedelta(days=1)


async def run_daily(at: time, db: Database, cleanup: Callable[[], Awaitable[object]]) -> None:
    while True:
        wait = (next_run(utc_naive_now(), at) - utc_naive_now()).total_seconds()
        await asyncio.sleep(max(wait, 0))
        try:
            await _exclusively(db, cleanup)
        except Exception:  # one failed night must not stop the following ones
            log.exception("cleanup.failed")


async def run_every(
    every: timedelta, db: Database, job: Callable[[], Awaitable[object]], *, lock: str
) -> None:
    """``job`` every ``every``, the first time after one interval (a janitor that was away
    hears of the jobs submitted meanwhile before it judges their uploads)."""
    while True:
        await asyncio.sleep(every.total_seconds())
        try:
            await _exclusively(db, job, lock)
        except Exception:  # one failed round must not stop the following ones
            log.exception("scheduled.failed", job=lock)


async def _exclusively(
    db: Database, cleanup: Callable[[], Awaitable[object]], lock: str = "janitor-cleanup"
) -> None:
    """A MySQL named lock, so that of several janitor replicas only one cleans up."""
    name = f"{db.engine.url.database}.{lock}"
    async with db.engine.connect() as connection:
        got = (await connection.execute(text("SELECT GET_LOCK(:name, 0)"), {"name": name})).scalar()
        if not got:
            log.info("cleanup.skipped", reason="another replica is cleaning up")
            return
        try:
            await cleanup()
        finally:
            await connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
