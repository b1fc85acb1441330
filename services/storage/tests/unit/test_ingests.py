"""The per-pair ingest as plain domain code, and the use cases on a fake unit of work (no
database, no broker, no S3, no ffmpeg): what counts as an attempt, what a deletion stops,
and that a job is answered with exactly one FilesStored or FilesRejected."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from contracts import (
    Envelope,
    Event,
    FilesRejected,
    FilesStored,
    JobCancelled,
    JobSubmitted,
    PairIngestQueued,
    SubmittedPair,
)
from servicekit import UnitOfWork
from servicekit.fakes import FakeUnitOfWork
from servicekit.messaging import Delivery
from storage_service.domain.checks import PairRejected
from storage_service.domain.ingests import (
    ABANDONED,
    CANCELLED,
    IngestRun,
    IngestState,
    PairState,
    Rejection,
    StoredPair,
)
from storage_service.service_layer.ingest import Ingest

NOW = datetime(2026, 11, 30, 12, 0)
RETRIED = Delivery(resumed=True, failures=1)
EXPIRES = NOW + timedelta(days=7)
STORED = StoredPair(
    duration_seconds=2.5, audio_bytes=80_000, text_bytes=20, audio_sha256="a" * 64,
    text_sha256="b" * 64,
)  # fmt: skip
BAD = Rejection("audio_not_audio", "audio_files[0] 'a.wav' is an HTML page, not audio")


def submitted(n: int, priority: int = 5, retention_days: int | None = 7) -> JobSubmitted:
    job_id, user_id = uuid4(), uuid4()
    return JobSubmitted(
        job_id=job_id,
        user_id=user_id,
        language="en",
        priority=priority,
        retention_days=retention_days,
        pairs=[
            SubmittedPair(
                file_id=uuid4(),
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
        ],
    )


def run_of(n: int) -> IngestRun:
    return IngestRun.plan(submitted(n), EXPIRES, NOW)


def answers(events: list[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, FilesStored | FilesRejected)]


# -- the domain ------------------------------------------------------------------------


def test_a_planned_job_has_every_pair_pending_and_no_answer_yet() -> None:
    run = run_of(2)
    assert [p.state for p in run.pairs] == [PairState.PENDING] * 2
    assert run.events == [] and run.state is IngestState.INGESTING


def test_a_job_without_pairs_is_rejected_at_once() -> None:
    run = run_of(0)
    [answer] = run.events
    assert isinstance(answer, FilesRejected) and answer.rejected == []


def test_the_last_pair_to_finish_answers_the_job_once_in_index_order() -> None:
    run = run_of(3)
    for pair in run.pairs:
        assert run.start(pair.file_id, "w", 2, NOW) == 1
    for i, pair in enumerate(reversed(run.pairs)):
        assert run.finish(pair.file_id, STORED, NOW)
        assert len(answers(run.events)) == (1 if i == 2 else 0)
    [stored] = run.events
    assert isinstance(stored, FilesStored)
    assert [f.index for f in stored.files] == [0, 1, 2]
    assert stored.total_bytes == 3 * (80_000 + 20)
    assert stored.priority == 5 and stored.rejected == []
    assert {f.expires_at for f in stored.files} == {EXPIRES.replace(tzinfo=UTC)}
    first = stored.files[0]
    assert first.audio_key == f"{run.user_id}/corpus/{run.job_id}/{first.corpus_file_id}.wav"
    assert (first.stored_bytes, first.audio_sha256) == (80_020, "a" * 64)
    assert run.state is IngestState.STORED and run.finished


def test_a_rejected_pair_never_sinks_its_siblings() -> None:
    run = run_of(2)
    good, bad = run.pairs
    for pair in run.pairs:
        run.start(pair.file_id, "w", 2, NOW)
    run.finish(bad.file_id, BAD, NOW)
    run.finish(good.file_id, STORED, NOW)
    [stored] = run.events
    assert isinstance(stored, FilesStored)
    assert [f.corpus_file_id for f in stored.files] == [good.file_id]
    assert [(r.index, r.code, r.reason) for r in stored.rejected] == [(1, BAD.code, BAD.reason)]


def test_a_job_with_nothing_stored_is_rejected() -> None:
    run = run_of(2)
    for pair in run.pairs:
        run.start(pair.file_id, "w", 2, NOW)
        run.finish(pair.file_id, BAD, NOW)
    [rejected] = run.events
    assert isinstance(rejected, FilesRejected)
    assert [r.code for r in rejected.rejected] == [BAD.code] * 2
    assert run.state is IngestState.REJECTED


def test_a_crash_costs_only_that_pair_an_attempt_and_a_third_delivery_gives_up() -> None:
    run = run_of(2)
    first, second = run.pairs
    assert run.start(first.file_id, "w1", 2, NOW) == 1
    assert run.start(second.file_id, "w1", 2, NOW) == 1
    run.finish(second.file_id, STORED, NOW)
    assert run.start(first.file_id, "w2", 2, NOW) is None  # a duplicate while it runs
    assert run.start(first.file_id, "w2", 2, NOW, resumed=True) == 2  # the worker died
    assert second.attempts == 1
    assert run.start(first.file_id, "w3", 2, NOW, resumed=True) is None  # again: given up
    assert first.state is PairState.REJECTED
    assert first.rejection is not None and first.rejection.code == "storage_error"
    [stored] = run.events
    assert isinstance(stored, FilesStored) and stored.rejected[0].code == "storage_error"


def test_an_error_is_retried_once_then_the_pair_is_rejected() -> None:
    run = run_of(1)
    [pair] = run.pairs
    assert run.start(pair.file_id, "w", 2, NOW) == 1
    assert run.failed(pair.file_id, 1, 2, NOW)  # try again
    assert run.start(pair.file_id, "w", 2, NOW, resumed=True) == 2
    assert not run.failed(pair.file_id, 2, 2, NOW)  # the second failure is the last
    assert pair.state is PairState.REJECTED
    assert pair.rejection is not None and pair.rejection.code == "storage_error"
    assert "2 times" in pair.rejection.reason
    assert not run.failed(pair.file_id, 2, 2, NOW)  # final: nothing more
    assert len(answers(run.events)) == 1


def test_an_interrupted_attempt_does_not_count() -> None:
    run = run_of(1)
    [pair] = run.pairs
    assert run.start(pair.file_id, "w", 2, NOW) == 1
    run.interrupted(pair.file_id, 1)
    assert (pair.state, pair.attempts) == (PairState.PENDING, 0)
    assert run.start(pair.file_id, "w", 2, NOW) == 1
    run.interrupted(pair.file_id, 7)  # not the running attempt: nothing changes
    assert (pair.state, pair.attempts) == (PairState.RUNNING, 1)


def test_a_blip_whose_redelivery_starts_before_the_take_back_still_costs_nothing() -> None:
    run = run_of(1)
    [pair] = run.pairs
    assert run.start(pair.file_id, "w", 2, NOW) == 1
    assert run.start(pair.file_id, "w", 2, NOW, resumed=True) == 2  # redelivered first
    run.interrupted(pair.file_id, 1)
    assert (pair.state, pair.attempts) == (PairState.RUNNING, 1)  # the new attempt goes on
    run.interrupted(pair.file_id, 3)  # no such attempt: nothing changes
    assert (pair.state, pair.attempts) == (PairState.RUNNING, 1)


def test_a_result_for_a_pair_that_is_not_running_is_dropped() -> None:
    run = run_of(1)
    [pair] = run.pairs
    assert not run.finish(pair.file_id, STORED, NOW)  # never started
    run.start(pair.file_id, "w", 2, NOW)
    assert run.finish(pair.file_id, STORED, NOW)
    assert not run.finish(pair.file_id, BAD, NOW)
    assert run.start(pair.file_id, "w", 2, NOW) is None  # a redelivery
    assert pair.state is PairState.STORED and len(run.events) == 1


def test_cancelling_rejects_the_pairs_not_started_and_waits_for_the_running_one() -> None:
    run = run_of(3)
    running, waiting, later = run.pairs
    run.start(running.file_id, "w", 2, NOW)
    run.cancel(NOW)
    assert waiting.state is PairState.REJECTED and waiting.rejection == CANCELLED
    assert answers(run.events) == []  # one pair still runs
    assert run.start(later.file_id, "w", 2, NOW) is None
    run.finish(running.file_id, STORED, NOW)
    [stored] = run.events
    assert isinstance(stored, FilesStored)
    assert [f.index for f in stored.files] == [0]
    assert [(r.index, r.code) for r in stored.rejected] == [(1, "cancelled"), (2, "cancelled")]
    run.cancel(NOW)
    assert len(run.events) == 1


def test_a_job_cancelled_before_any_pair_started_is_rejected_at_once() -> None:
    run = run_of(2)
    run.cancel(NOW)
    [rejected] = run.events
    assert isinstance(rejected, FilesRejected)
    assert {r.code for r in rejected.rejected} == {"cancelled"}


def test_a_running_pair_refused_after_the_deletion_counts_as_cancelled() -> None:
    run = run_of(2)
    first, _ = run.pairs
    run.start(first.file_id, "w", 2, NOW)
    run.cancel(NOW)
    missing = Rejection("upload_missing", "audio_files[0] 'f0.wav': the upload was lost")
    run.finish(first.file_id, missing, NOW)
    [rejected] = run.events
    assert isinstance(rejected, FilesRejected)
    assert [r.code for r in rejected.rejected] == ["cancelled", "cancelled"]


def test_a_job_refused_before_planning_rejects_every_pair_with_the_reason() -> None:
    run = run_of(2)
    run.refuse(ABANDONED, NOW)
    [rejected] = run.events
    assert isinstance(rejected, FilesRejected)
    assert [r.code for r in rejected.rejected] == ["upload_abandoned"] * 2


# -- the use cases on fakes ------------------------------------------------------------


@dataclass
class FakeRuns:
    """Runs kept as copies, as a database keeps rows: only what is saved stays."""

    stored: dict[UUID, IngestRun] = field(default_factory=dict)
    cancelled: set[UUID] = field(default_factory=set)
    abandoned: set[UUID] = field(default_factory=set)

    async def refusal(self, job_id: UUID) -> Rejection | None:
        if job_id in self.cancelled:
            return CANCELLED
        return ABANDONED if job_id in self.abandoned else None

    async def record_cancelled(self, job_id: UUID, user_id: UUID) -> None:
        self.cancelled.add(job_id)

    async def get(self, job_id: UUID, *, lock: bool = True) -> IngestRun | None:
        run = self.stored.get(job_id)
        if run is None:
            return None
        found = copy.deepcopy(run)
        if job_id in self.cancelled and found.cancelled_at is None:
            found.cancelled_at = NOW  # as the SQL repository reads cancelled_jobs
        return found

    async def add(self, run: IngestRun) -> bool:
        if run.job_id in self.stored:
            return False
        self._keep(run)
        return True

    async def save(self, run: IngestRun) -> None:
        self._keep(run)

    def _keep(self, run: IngestRun) -> None:
        kept = copy.deepcopy(run)
        kept.events, kept.changed = [], set()  # state is stored; events go to the outbox
        self.stored[run.job_id] = kept
        run.changed.clear()

    async def forget_user(self, user_id: UUID) -> None:
        self.stored = {k: v for k, v in self.stored.items() if v.user_id != user_id}


@dataclass
class FakeObjects:
    deleted: list[str] = field(default_factory=list)
    deleted_prefixes: list[str] = field(default_factory=list)

    async def delete(self, keys: list[str]) -> None:
        self.deleted += keys

    async def delete_prefix(self, prefix: str) -> int:
        self.deleted_prefixes.append(prefix)
        return 0


Behaviour = Callable[[int], Awaitable[StoredPair]]


async def store_it(index: int) -> StoredPair:
    return STORED


class FakeStorer:
    """Stores by calling ``behaviour`` with the pair's index."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.calls: list[int] = []

    async def store(self, user_id: UUID, job_id: UUID, pair: SubmittedPair) -> StoredPair:
        self.calls.append(pair.index)
        return await self.behaviour(pair.index)


class Harness:
    def __init__(self, behaviour: Behaviour = store_it) -> None:
        self.runs = FakeRuns()
        self.outbox: list[tuple[Event, int | None]] = []
        self.objects = FakeObjects()
        self.storer = FakeStorer(behaviour)
        self.ingest = Ingest(
            cast(Any, self.storer),
            cast(Any, self.objects),
            lambda: cast(UnitOfWork, FakeUnitOfWork(self.outbox)),
            retention=timedelta(days=30),
            max_attempts=2,
            worker="test-worker",
            runs=lambda uow: self.runs,
        )

    def uow(self) -> UnitOfWork:
        return cast(UnitOfWork, FakeUnitOfWork(self.outbox))

    async def plan(self, job: JobSubmitted) -> None:
        async with self.uow() as uow:
            await self.ingest.plan(Envelope.wrap(job, producer="t", correlation_id="c"), uow)
            await uow.commit()

    async def cancel(self, job: JobSubmitted) -> None:
        event = JobCancelled(job_id=job.job_id, user_id=job.user_id)
        async with self.uow() as uow:
            await self.ingest.cancel(Envelope.wrap(event, producer="t", correlation_id="d"), uow)
            await uow.commit()

    def queued(self) -> list[Envelope[PairIngestQueued]]:
        return [
            Envelope.wrap(e, producer="t", correlation_id="c")
            for e, _ in self.outbox
            if isinstance(e, PairIngestQueued)
        ]

    def answers(self) -> list[tuple[Event, int | None]]:
        return [(e, p) for e, p in self.outbox if isinstance(e, FilesStored | FilesRejected)]


def uploads(job: JobSubmitted, *indexes: int) -> set[str]:
    return {k for i in indexes for k in (job.pairs[i].audio_key, job.pairs[i].text_key)}


async def test_a_planned_job_queues_each_pair_at_its_priority_once() -> None:
    harness = Harness()
    job = submitted(3, priority=5)
    await harness.plan(job)
    await harness.plan(job)  # a second delivery plans nothing
    queued = [(e, p) for e, p in harness.outbox if isinstance(e, PairIngestQueued)]
    assert [e.pair.index for e, _ in queued] == [0, 1, 2]
    assert {p for _, p in queued} == {5}
    assert {e.pairs_total for e, _ in queued} == {3}
    run = harness.runs.stored[job.job_id]
    assert run.expires_at - datetime.now(UTC).replace(tzinfo=None) > timedelta(days=6)
    assert harness.answers() == []


async def test_every_pair_stored_gives_one_files_stored_and_a_redelivery_does_nothing() -> None:
    harness = Harness()
    job = submitted(3, priority=5)
    await harness.plan(job)
    items = harness.queued()
    for item in reversed(items):
        await harness.ingest.store(item)
    assert sorted(harness.storer.calls) == [0, 1, 2]
    [(stored, priority)] = harness.answers()
    assert isinstance(stored, FilesStored) and priority == 5
    assert [f.index for f in stored.files] == [0, 1, 2]
    assert set(harness.objects.deleted) == uploads(job, 0, 1, 2)  # each after its commit
    before = (len(harness.outbox), list(harness.objects.deleted))
    await harness.ingest.store(items[0])  # a finished pair delivered again
    assert (len(harness.outbox), harness.objects.deleted) == before
    assert len(harness.storer.calls) == 3


async def test_a_job_deleted_or_abandoned_before_it_was_planned_is_refused() -> None:
    harness = Harness()
    deleted, abandoned = submitted(2), submitted(1)
    await harness.cancel(deleted)
    harness.runs.abandoned.add(abandoned.job_id)
    await harness.plan(deleted)
    await harness.plan(abandoned)
    assert harness.queued() == [] and harness.runs.stored == {}
    codes = [
        [r.code for r in e.rejected] for e, _ in harness.outbox if isinstance(e, FilesRejected)
    ]
    assert codes == [["cancelled", "cancelled"], ["upload_abandoned"]]
    assert uploads(deleted, 0, 1) | uploads(abandoned, 0) <= set(harness.objects.deleted)


async def test_a_lost_connection_or_an_outage_mid_pair_costs_no_attempt() -> None:
    cuts: list[BaseException] = [asyncio.CancelledError(), ConnectionResetError("S3 went away")]

    async def interrupted_twice(index: int) -> StoredPair:
        if cuts:
            raise cuts.pop(0)
        return STORED

    harness = Harness(interrupted_twice)
    job = submitted(1)
    await harness.plan(job)
    [item] = harness.queued()
    with pytest.raises(asyncio.CancelledError):
        await harness.ingest.store(item)
    with pytest.raises(ConnectionResetError):
        await harness.ingest.store(item)
    assert harness.runs.stored[job.job_id].pairs[0].attempts == 0
    await harness.ingest.store(item)  # redelivered
    pair = harness.runs.stored[job.job_id].pairs[0]
    assert (pair.attempts, pair.state) == (1, PairState.STORED)
    assert len(harness.answers()) == 1


async def test_an_error_is_retried_once_then_the_pair_alone_is_rejected() -> None:
    async def broken_first(index: int) -> StoredPair:
        if index == 0:
            raise RuntimeError("the disk is full")
        return STORED

    harness = Harness(broken_first)
    job = submitted(2)
    await harness.plan(job)
    first, second = harness.queued()
    await harness.ingest.store(second)
    with pytest.raises(RuntimeError):  # the kit retries the delivery
        await harness.ingest.store(first)
    await harness.ingest.store(first)  # a duplicate of the message meanwhile: nothing
    assert harness.storer.calls.count(0) == 1
    await harness.ingest.store(first, RETRIED)  # the second failure rejects it: no loop
    assert harness.storer.calls.count(0) == 2
    [(stored, _)] = harness.answers()
    assert isinstance(stored, FilesStored)
    assert [f.index for f in stored.files] == [1]
    assert [(r.index, r.code) for r in stored.rejected] == [(0, "storage_error")]
    pair = job.pairs[0]
    written = f"{job.user_id}/corpus/{job.job_id}/{pair.file_id}.wav"
    assert written in harness.objects.deleted  # whatever an attempt may have written


async def test_a_content_refusal_rejects_the_pair_without_a_retry() -> None:
    async def refused(index: int) -> StoredPair:
        raise PairRejected("audio_undecodable", "audio_files[0] 'f0.wav' could not be decoded")

    harness = Harness(refused)
    await harness.plan(submitted(1))
    [item] = harness.queued()
    await harness.ingest.store(item)
    [(rejected, priority)] = harness.answers()
    assert isinstance(rejected, FilesRejected) and priority is None
    assert [r.code for r in rejected.rejected] == ["audio_undecodable"]


async def test_two_crashes_then_the_next_delivery_rejects_the_pair_without_storing_it() -> None:
    harness = Harness()
    job = submitted(1)
    await harness.plan(job)
    [item] = harness.queued()
    run = harness.runs.stored[job.job_id]
    for _ in range(2):  # as if the worker died while storing it
        run.start(job.pairs[0].file_id, "dead", 2, NOW, resumed=True)
    await harness.ingest.store(item, RETRIED)
    assert harness.storer.calls == []
    [(rejected, _)] = harness.answers()
    assert isinstance(rejected, FilesRejected)
    assert rejected.rejected[0].code == "storage_error"


async def test_a_deletion_mid_ingest_rejects_the_pairs_not_started() -> None:
    harness = Harness()
    job = submitted(3)
    await harness.plan(job)
    first, second, third = harness.queued()
    await harness.ingest.store(first)
    await harness.cancel(job)
    assert harness.objects.deleted_prefixes == [f"incoming/{job.user_id}/{job.job_id}/"]
    [(stored, _)] = harness.answers()  # the deletion answered: nothing runs any more
    assert isinstance(stored, FilesStored)
    assert [f.index for f in stored.files] == [0]
    assert [(r.index, r.code) for r in stored.rejected] == [(1, "cancelled"), (2, "cancelled")]
    await harness.ingest.store(second)
    await harness.ingest.store(third)
    assert harness.storer.calls == [0] and len(harness.answers()) == 1


async def test_a_pair_running_when_the_job_is_deleted_finishes_and_answers() -> None:
    harness = Harness()
    job = submitted(2)

    async def deleted_meanwhile(index: int) -> StoredPair:
        await harness.cancel(job)
        return STORED

    harness.storer.behaviour = deleted_meanwhile
    await harness.plan(job)
    first, second = harness.queued()
    await harness.ingest.store(first)
    [(stored, _)] = harness.answers()
    assert isinstance(stored, FilesStored)
    assert [f.index for f in stored.files] == [0]
    assert [r.code for r in stored.rejected] == ["cancelled"]
    await harness.ingest.store(second)
    assert harness.storer.calls == [0] and len(harness.answers()) == 1


async def test_a_pair_stored_after_its_user_was_deleted_leaves_nothing() -> None:
    harness = Harness()
    job = submitted(1)

    async def forgotten_meanwhile(index: int) -> StoredPair:
        await harness.runs.forget_user(job.user_id)
        return STORED

    harness.storer.behaviour = forgotten_meanwhile
    await harness.plan(job)
    [item] = harness.queued()
    await harness.ingest.store(item)
    assert harness.answers() == []
    pair = job.pairs[0]
    assert {
        f"{job.user_id}/corpus/{job.job_id}/{pair.file_id}.wav",
        f"{job.user_id}/corpus/{job.job_id}/{pair.file_id}.txt",
    } <= set(harness.objects.deleted)
    await harness.ingest.store(item)  # delivered again: no job, nothing to do
    assert harness.storer.calls == [0]
