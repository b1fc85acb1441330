"""One change feed per gateway process, fanned out to the job streams open on it.

Two sources feed it, and neither costs anything per stream:

- the gateway's own event handlers publish each job they saved, once their transaction
  committed (no read at all);
- one shared poll: the gateway's queues are shared by its replicas (competing consumers),
  so another replica may handle a job's event. Once a second, one query reads the version
  (``updated_at``) of every job that has an open stream here, and the jobs whose version
  moved are loaded together (two queries). Changes handled elsewhere arrive within about a
  second; a job gone from the table is a deleted job.

The feed keeps the latest state of each watched job and sends each subscriber what changed
since the state before: the job's status, progress and error, and the files that changed.
A subscriber's queue is bounded and a publish never waits: when a stream falls behind that
far, its queue is dropped and its next change is the whole job (a resync). Changes a stream
has not yet taken are coalesced into one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from prometheus_client import Gauge

from gateway_service.adapters.repository import FileRecord, JobRecord
from gateway_service.domain.jobs import advance, advance_file
from servicekit import get_logger

__all__ = ["Change", "ChangeKind", "JobChanges", "JobSource", "Subscription"]

log = get_logger(__name__)

POLL_SECONDS = 1.0
QUEUE_SIZE = 32

OPEN_STREAMS = Gauge("gateway_event_streams_open", "Job event streams open on this process")


class JobSource(Protocol):
    """Where the shared poll reads (``adapters.watched_jobs.WatchedJobs``)."""

    async def versions(self, job_ids: Collection[UUID]) -> dict[UUID, datetime]: ...

    async def load(self, job_ids: Collection[UUID]) -> list[JobRecord]: ...


class ChangeKind(StrEnum):
    WHOLE = "whole"  # send the whole job: a stream's first change, and after a resync
    DELTA = "delta"  # send what changed
    DELETED = "deleted"  # the job is gone
    CLOSED = "closed"  # the process stops: the client reconnects elsewhere


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    job: JobRecord | None = None  # the job as it is now (not for DELETED and CLOSED)
    files: tuple[FileRecord, ...] = ()  # DELTA: the files that changed, in file order
    job_changed: bool = False  # DELTA: status, progress or error changed


@dataclass(frozen=True)
class _Delta:
    job: JobRecord
    file_ids: frozenset[UUID]
    job_changed: bool


class Subscription:
    """One stream's view of one job: ``await next()`` for what changed since the last."""

    def __init__(self, feed: JobChanges, job_id: UUID, queue_size: int) -> None:
        self.job_id = job_id
        self._feed = feed
        self._queue: asyncio.Queue[_Delta | ChangeKind] = asyncio.Queue(queue_size)
        self._marker: ChangeKind | None = None  # a WHOLE, DELETED or CLOSED is waiting
        self._mark(ChangeKind.WHOLE)

    async def next(self) -> Change:
        first = await self._queue.get()
        if isinstance(first, ChangeKind):
            self._marker = None
            if first is ChangeKind.WHOLE:
                return Change(ChangeKind.WHOLE, self._feed.latest(self.job_id))
            return Change(first)
        deltas = [first]
        while not self._queue.empty():  # all that arrived meanwhile, as one change
            item = self._queue.get_nowait()
            assert isinstance(item, _Delta)  # a marker empties the queue first
            deltas.append(item)
        job = deltas[-1].job
        changed = frozenset().union(*(d.file_ids for d in deltas))
        files = tuple(f for f in job.files if f.id in changed)
        job_changed = any(d.job_changed for d in deltas)
        return Change(ChangeKind.DELTA, job, files, job_changed)

    def _offer(self, delta: _Delta) -> None:
        if self._marker is not None:  # the whole job (or the end) is coming anyway
            return
        try:
            self._queue.put_nowait(delta)
        except asyncio.QueueFull:  # a slow stream: never wait for it, resync it
            log.info("job_changes.resync", job_id=str(self.job_id))
            self._mark(ChangeKind.WHOLE)

    def _mark(self, marker: ChangeKind) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._marker = marker
        self._queue.put_nowait(marker)


class JobChanges:
    def __init__(
        self,
        source: JobSource,
        *,
        poll_seconds: float = POLL_SECONDS,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self._source = source
        self._poll_seconds = poll_seconds
        self._queue_size = queue_size
        self._latest: dict[UUID, JobRecord] = {}  # watched jobs only
        self._subscribers: dict[UUID, set[Subscription]] = {}
        self._reading: dict[UUID, asyncio.Future[JobRecord | None]] = {}
        self._task: asyncio.Task[None] | None = None

    # -- streams --------------------------------------------------------------------

    async def lookup(self, user_id: UUID, job_id: UUID) -> JobRecord | None:
        """The user's job, or None. Read only when no stream of this process watches it,
        and then once for all the streams opening on it at the same moment."""
        job = self._latest.get(job_id)
        if job is None:
            reading = self._reading.get(job_id)
            if reading is None:
                reading = self._reading[job_id] = asyncio.ensure_future(self._read(job_id))
                reading.add_done_callback(lambda _: self._reading.pop(job_id, None))
            job = await asyncio.shield(reading)  # one caller gone cancels no one else's
        return job if job is not None and job.user_id == user_id else None

    async def _read(self, job_id: UUID) -> JobRecord | None:
        found = await self._source.load([job_id])
        return found[0] if found else None

    @contextlib.contextmanager
    def subscribe(self, job: JobRecord) -> Iterator[Subscription]:
        """Watch ``job`` (as just looked up) until the block ends; its first change is the
        whole job."""
        if job.id in self._latest:
            self.publish(job)  # it may be newer than what the feed had
        else:
            self._latest[job.id] = job
        subscription = Subscription(self, job.id, self._queue_size)
        self._subscribers.setdefault(job.id, set()).add(subscription)
        OPEN_STREAMS.inc()
        try:
            yield subscription
        finally:
            OPEN_STREAMS.dec()
            watching = self._subscribers.get(job.id, set())
            watching.discard(subscription)
            if not watching:
                self._subscribers.pop(job.id, None)
                self._latest.pop(job.id, None)

    def latest(self, job_id: UUID) -> JobRecord:
        return self._latest[job_id]

    @property
    def watched(self) -> frozenset[UUID]:
        return frozenset(self._subscribers)

    # -- sources --------------------------------------------------------------------

    def publish(self, job: JobRecord) -> None:
        """The job as it is now (committed); a job no stream here watches costs nothing.
        The feed keeps ``job``: it must not be changed afterwards."""
        before = self._latest.get(job.id)
        if before is None or _behind(job, before):  # an older snapshot than the one held
            return
        self._latest[job.id] = job
        previous = {f.id: f for f in before.files}
        changed = frozenset(f.id for f in job.files if previous.get(f.id) != f)
        job_changed = (job.status, job.progress, job.error) != (
            before.status,
            before.progress,
            before.error,
        )
        if not changed and not job_changed:
            return
        delta = _Delta(job, changed, job_changed)
        for subscription in self._subscribers.get(job.id, ()):
            subscription._offer(delta)

    def publish_deleted(self, job_id: UUID) -> None:
        for subscription in self._subscribers.get(job_id, ()):
            subscription._mark(ChangeKind.DELETED)

    async def poll(self) -> None:
        """One shared poll of every watched job (see the module's docstring)."""
        watched = self.watched
        if not watched:
            return
        versions = await self._source.versions(watched)
        moved = [
            job_id
            for job_id in watched
            if job_id in versions
            and job_id in self._latest
            and versions[job_id] != self._latest[job_id].updated_at
        ]
        for job in await self._source.load(moved) if moved else []:
            self.publish(job)
        for job_id in watched - versions.keys():
            self.publish_deleted(job_id)

    # -- the process ----------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="job-changes-poll")

    async def stop(self) -> None:
        """Stop polling and end every stream (their clients reconnect to another replica)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription._mark(ChangeKind.CLOSED)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                await self.poll()
            except Exception as exc:  # e.g. the database is away: streams wait, keep alive
                log.warning("job_changes.poll_failed", error=f"{type(exc).__name__}: {exc}")


def _behind(job: JobRecord, held: JobRecord) -> bool:
    """Whether ``job`` is an older state than ``held``: states only move forward."""
    if job.progress < held.progress or advance(job.status, held.status) is not job.status:
        return True
    files = {f.id: f.status for f in job.files}
    return any(
        f.id in files and advance_file(files[f.id], f.status) is not files[f.id] for f in held.files
    )
