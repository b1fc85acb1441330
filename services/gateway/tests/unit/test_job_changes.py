"""The change feed behind the job event streams, with an in-memory read model: fan-out,
coalescing, resync of a slow stream, leaving on disconnect, one shared poll."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from gateway_service.adapters.repository import FileRecord, JobRecord
from gateway_service.api.events import follow
from gateway_service.domain.jobs import FileStatus, JobStatus
from gateway_service.service_layer.job_changes import OPEN_STREAMS, ChangeKind, JobChanges

T0 = datetime(2030, 1, 1)


def make_job(files: int = 3, user_id: UUID | None = None) -> JobRecord:
    return JobRecord(
        id=uuid.uuid4(),
        user_id=user_id or uuid.uuid4(),
        status=JobStatus.STORED,
        progress=5,
        language="en",
        engine=None,
        options={},
        error=None,
        created_at=T0,
        updated_at=T0,
        files=[
            FileRecord(uuid.uuid4(), i, f"f{i}", f"f{i}.wav", f"f{i}.txt", FileStatus.STORED)
            for i in range(files)
        ],
    )


def changed(
    job: JobRecord, *, progress: int | None = None, aligned: Collection[int] = (), **fields: Any
) -> JobRecord:
    """The next state of ``job`` (a new record, as a handler or the poll would give)."""
    files = [
        dataclasses.replace(f, status=FileStatus.ALIGNED) if f.file_index in aligned else f
        for f in job.files
    ]
    return dataclasses.replace(
        job,
        status=fields.pop("status", JobStatus.PROCESSING),
        progress=job.progress if progress is None else progress,
        updated_at=job.updated_at + timedelta(seconds=1),
        files=files,
        **fields,
    )


class FakeReadModel:
    """The jobs table as another replica leaves it; records each read."""

    def __init__(self, *jobs: JobRecord) -> None:
        self.jobs = {j.id: j for j in jobs}
        self.reads: list[tuple[str, set[UUID]]] = []

    async def versions(self, job_ids: Collection[UUID]) -> dict[UUID, datetime]:
        self.reads.append(("versions", set(job_ids)))
        return {i: self.jobs[i].updated_at for i in job_ids if i in self.jobs}

    async def load(self, job_ids: Collection[UUID]) -> list[JobRecord]:
        self.reads.append(("load", set(job_ids)))
        return [self.jobs[i] for i in job_ids if i in self.jobs]


async def next_change(subscription: Any) -> Any:
    return await asyncio.wait_for(subscription.next(), timeout=1)


async def test_every_subscriber_gets_the_whole_job_then_only_what_changed() -> None:
    job = make_job()
    feed = JobChanges(FakeReadModel(job))
    with (
        feed.subscribe(job) as a,
        feed.subscribe(job) as b,
        feed.subscribe(job) as c,
    ):
        for s in (a, b, c):
            first = await next_change(s)
            assert first.kind is ChangeKind.WHOLE and first.job is job
        later = changed(job, progress=40, aligned=[1])
        feed.publish(later)
        for s in (a, b, c):
            delta = await next_change(s)
            assert delta.kind is ChangeKind.DELTA and delta.job_changed
            assert delta.job.progress == 40
            assert [f.id for f in delta.files] == [job.files[1].id]
        # Only a file changed: no job-level change to send.
        feed.publish(changed(later, aligned=[1, 2]))
        delta = await next_change(a)
        assert not delta.job_changed and [f.file_index for f in delta.files] == [2]


async def test_changes_a_stream_has_not_taken_yet_are_coalesced() -> None:
    job = make_job()
    feed = JobChanges(FakeReadModel(job))
    with feed.subscribe(job) as stream:
        await next_change(stream)
        state = job
        for step, percent in enumerate((10, 20, 30, 40, 50)):
            state = changed(state, progress=percent, aligned=[0] if step == 1 else [])
            feed.publish(state)
        delta = await next_change(stream)
        assert delta.kind is ChangeKind.DELTA and delta.job.progress == 50
        assert [f.file_index for f in delta.files] == [0]
        assert delta.files[0].status is FileStatus.ALIGNED
        with pytest.raises(TimeoutError):  # nothing more: all five were one change
            await asyncio.wait_for(stream.next(), timeout=0.05)


async def test_a_slow_stream_is_resynced_and_never_holds_up_the_others() -> None:
    job = make_job()
    feed = JobChanges(FakeReadModel(job), queue_size=2)
    with feed.subscribe(job) as slow, feed.subscribe(job) as fast:
        await next_change(slow)
        await next_change(fast)
        state = job
        for percent in range(10, 60, 10):  # more changes than the slow queue holds
            state = changed(state, progress=percent)
            feed.publish(state)  # returns at once, whoever reads or not
            assert (await next_change(fast)).job.progress == percent
        resync = await next_change(slow)
        assert resync.kind is ChangeKind.WHOLE and resync.job is state
        feed.publish(changed(state, progress=60))
        after = await next_change(slow)  # caught up: deltas again
        assert after.kind is ChangeKind.DELTA and after.job.progress == 60


async def test_a_stream_leaves_the_feed_when_its_client_disconnects() -> None:
    job = make_job()
    source = FakeReadModel(job)
    feed = JobChanges(source)
    before = OPEN_STREAMS._value.get()
    events = follow(feed, job)
    first = await anext(events)
    assert first.event == "job" and json.loads(str(first.data))["files"]
    assert feed.watched == {job.id} and OPEN_STREAMS._value.get() == before + 1
    pending = asyncio.ensure_future(anext(events))  # waiting for the next change...
    await asyncio.sleep(0.01)
    pending.cancel()  # ...when the client goes away (the server cancels, then closes it)
    with pytest.raises(asyncio.CancelledError):
        await pending
    await events.aclose()
    assert feed.watched == frozenset() and OPEN_STREAMS._value.get() == before
    await feed.poll()
    assert source.reads == []  # nothing watched: the poll reads nothing
    feed.publish(changed(job, progress=50))  # and a change costs nothing


async def test_one_poll_for_every_stream_finds_changes_made_by_another_replica() -> None:
    first, second = make_job(), make_job()
    source = FakeReadModel(first, second)
    feed = JobChanges(source)
    with (
        feed.subscribe(first) as a,
        feed.subscribe(first) as b,
        feed.subscribe(second) as c,
    ):
        for s in (a, b, c):
            await next_change(s)
        await feed.poll()
        assert source.reads == [("versions", {first.id, second.id})]  # nothing moved
        source.reads.clear()
        source.jobs[first.id] = changed(first, progress=70, aligned=[0])
        await feed.poll()
        assert source.reads == [("versions", {first.id, second.id}), ("load", {first.id})]
        for s in (a, b):
            delta = await next_change(s)
            assert delta.job.progress == 70 and [f.file_index for f in delta.files] == [0]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(c.next(), timeout=0.05)
        del source.jobs[second.id]  # deleted, through another replica
        await feed.poll()
        assert (await next_change(c)).kind is ChangeKind.DELETED


async def test_an_older_snapshot_never_takes_a_stream_backwards() -> None:
    job = make_job()
    feed = JobChanges(FakeReadModel(job))
    newer = changed(job, progress=60, aligned=[0])
    older = changed(job, progress=40)
    with feed.subscribe(job) as stream:
        await next_change(stream)
        feed.publish(newer)  # handled here
        feed.publish(older)  # read by a poll that started before that commit
        assert (await next_change(stream)).job.progress == 60
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stream.next(), timeout=0.05)
        assert feed.latest(job.id) is newer


async def test_looking_a_job_up_reads_only_when_no_stream_watches_it() -> None:
    job = make_job()
    source = FakeReadModel(job)
    feed = JobChanges(source)
    assert await feed.lookup(job.user_id, job.id) is job
    assert await feed.lookup(uuid.uuid4(), job.id) is None  # someone else's: absent
    assert await feed.lookup(job.user_id, uuid.uuid4()) is None
    assert len(source.reads) == 3
    source.reads.clear()
    many = await asyncio.gather(*(feed.lookup(job.user_id, job.id) for _ in range(50)))
    assert many == [job] * 50 and source.reads == [("load", {job.id})]  # opened together
    with feed.subscribe(job):
        source.reads.clear()
        for _ in range(100):
            assert await feed.lookup(job.user_id, job.id) is job
        assert await feed.lookup(uuid.uuid4(), job.id) is None
        assert source.reads == []


async def test_a_stream_sends_files_and_job_changes_and_ends_when_the_job_is_done() -> None:
    job = make_job(files=2)
    feed = JobChanges(FakeReadModel(job))
    received: list[tuple[str, dict[str, Any]]] = []

    async def read() -> None:
        async for event in follow(feed, job):
            received.append((str(event.event), json.loads(str(event.data))))

    reader = asyncio.ensure_future(read())
    await asyncio.sleep(0.01)
    running = changed(job, progress=50, aligned=[0])
    feed.publish(running)
    await asyncio.sleep(0.01)
    feed.publish(changed(running, progress=100, aligned=[0, 1], status=JobStatus.COMPLETED))
    await asyncio.wait_for(reader, timeout=1)
    names = [name for name, _ in received]
    assert names == ["job", "file", "job", "file", "job"]
    assert received[1][1]["id"] == str(job.files[0].id) and received[1][1]["status"] == "ALIGNED"
    assert received[2][1] == {
        "id": str(job.id),
        "status": "PROCESSING",
        "progress": 50,
        "error": None,
    }
    assert received[4][1]["status"] == "COMPLETED" and received[4][1]["progress"] == 100
    assert feed.watched == frozenset()


async def test_a_deleted_job_ends_its_streams_and_a_stopping_feed_ends_all() -> None:
    job, other = make_job(), make_job()
    source = FakeReadModel(job, other)
    feed = JobChanges(source, poll_seconds=0.01)
    await feed.start()
    deleted = follow(feed, job)
    stopped = follow(feed, other)
    assert (await anext(deleted)).event == "job"
    assert (await anext(stopped)).event == "job"
    del source.jobs[job.id]  # the running poll notices
    gone = await asyncio.wait_for(anext(deleted), timeout=1)
    assert gone.event == "deleted" and json.loads(str(gone.data)) == {"id": str(job.id)}
    with pytest.raises(StopAsyncIteration):
        await anext(deleted)
    await feed.stop()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(stopped), timeout=1)
    assert feed.watched == frozenset()
