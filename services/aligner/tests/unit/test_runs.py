"""The per-file run as plain domain code, and the use cases on a fake unit of work (no
database, no broker, no engine): who aligns what, what counts as an attempt, and that a
job ends with exactly one AlignmentDone."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from aligner_service.domain.runs import FileResult, FileState, JobRun, JobState
from aligner_service.engines.base import EngineFailed, EngineUnavailable
from aligner_service.service_layer.align_files import AlignFiles
from contracts import (
    TRANSCRIPT_FORMAT_OPTION,
    AlignmentDone,
    AlignmentOutcome,
    AlignmentStarted,
    Envelope,
    Event,
    FileAlignmentQueued,
    FilesStored,
    JobCancelled,
    StoredFile,
)
from servicekit import UnitOfWork
from servicekit.fakes import FakeUnitOfWork
from servicekit.messaging import Delivery

NOW = datetime(2026, 11, 30, 12, 0)
RETRIED = Delivery(resumed=True, failures=1)
ALIGNED = FileResult(aligned=True, result_keys={"json": "k.json"}, word_count=3)


def job_with(n: int) -> JobRun:
    run = JobRun.plan(uuid4(), uuid4(), "pocketsphinx", [(uuid4(), i) for i in range(n)])
    run.events.clear()
    return run


def done_events(run: JobRun) -> list[AlignmentDone]:
    return [e for e in run.events if isinstance(e, AlignmentDone)]


# -- the domain ------------------------------------------------------------------------


def test_a_planned_job_has_every_file_pending_and_says_it_started() -> None:
    run = JobRun.plan(uuid4(), uuid4(), "pocketsphinx", [(uuid4(), 0), (uuid4(), 1)])
    assert [f.state for f in run.files] == [FileState.PENDING] * 2
    [started] = run.events
    assert isinstance(started, AlignmentStarted) and started.file_count == 2


def test_the_last_file_to_finish_ends_the_job_once() -> None:
    run = job_with(3)
    for i, file in enumerate(run.files):
        assert run.start(file.file_id, f"d{i}", f"worker-{i}", 2, NOW) == 1
    for i, file in enumerate(reversed(run.files)):
        assert run.finish(file.file_id, f"d{2 - i}", ALIGNED, NOW)
        assert len(done_events(run)) == (1 if i == 2 else 0)
    [done] = done_events(run)
    assert done.status is AlignmentOutcome.COMPLETED
    assert [o.corpus_file_id for o in done.files] == [f.file_id for f in run.files]
    assert run.state is JobState.COMPLETED and run.finished
    assert {f.worker for f in run.files} == {"worker-0", "worker-1", "worker-2"}


def test_a_job_whose_files_all_failed_is_failed() -> None:
    run = job_with(2)
    for file in run.files:
        run.start(file.file_id, "d", "w", 2, NOW)
        run.finish(file.file_id, "d", FileResult(aligned=False, error="no speech"), NOW)
    [done] = done_events(run)
    assert done.status is AlignmentOutcome.FAILED
    assert [o.error for o in done.files] == ["no speech", "no speech"]
    assert run.state is JobState.FAILED


def test_a_crash_costs_only_that_file_an_attempt_and_two_fail_it() -> None:
    run = job_with(2)
    first, second = run.files
    assert run.start(first.file_id, "d1", "w", 2, NOW) == 1
    assert run.start(second.file_id, "d2", "w", 2, NOW) == 1
    run.finish(second.file_id, "d2", ALIGNED, NOW)
    # the same message again while it runs: a duplicate (an outbox sent it twice)
    assert run.start(first.file_id, "d1", "w2", 2, NOW) is None
    assert first.attempts == 1
    # the worker died: the broker delivers it again
    assert run.start(first.file_id, "d1", "w2", 2, NOW, resumed=True) == 2
    assert second.attempts == 1
    assert run.start(first.file_id, "d1", "w3", 2, NOW, resumed=True) is None  # given up
    assert first.state is FileState.FAILED
    [done] = done_events(run)
    assert done.status is AlignmentOutcome.COMPLETED  # one file aligned
    assert "2 times" in (done.files[0].error or "")


def test_an_interrupted_attempt_does_not_count() -> None:
    run = job_with(1)
    [file] = run.files
    assert run.start(file.file_id, "d", "w", 2, NOW) == 1
    run.interrupted(file.file_id, "d", 1)
    assert (file.state, file.attempts) == (FileState.PENDING, 0)
    assert run.start(file.file_id, "d", "w", 2, NOW) == 1
    run.interrupted(file.file_id, "other", 1)  # not its owner: nothing changes
    assert (file.state, file.attempts) == (FileState.RUNNING, 1)


def test_a_blip_whose_redelivery_starts_before_the_take_back_still_costs_nothing() -> None:
    run = job_with(1)
    [file] = run.files
    assert run.start(file.file_id, "d", "w", 2, NOW) == 1
    # The broker comes back and redelivers before the cut-short attempt is taken back.
    assert run.start(file.file_id, "d", "w", 2, NOW, resumed=True) == 2
    run.interrupted(file.file_id, "d", 1)
    assert (file.state, file.attempts) == (FileState.RUNNING, 1)  # the new attempt goes on
    assert run.finish(file.file_id, "d", FileResult(aligned=True), NOW)
    assert (file.state, file.attempts) == (FileState.ALIGNED, 1)


def test_of_two_copies_the_first_to_start_owns_the_file() -> None:
    run = job_with(1)
    [file] = run.files
    assert run.start(file.file_id, "promoted", "w", 2, NOW) == 1
    assert run.start(file.file_id, "original", "w", 2, NOW) is None
    assert not run.finish(file.file_id, "original", ALIGNED, NOW)
    assert run.finish(file.file_id, "promoted", ALIGNED, NOW)
    assert run.start(file.file_id, "promoted", "w", 2, NOW) is None  # final: a redelivery
    assert len(done_events(run)) == 1


def test_cancelling_stops_the_files_not_started_and_waits_for_the_running_one() -> None:
    run = job_with(3)
    running, waiting, later = run.files
    run.start(running.file_id, "d", "w", 2, NOW)
    run.cancel(NOW)
    assert waiting.state is FileState.CANCELLED and later.state is FileState.CANCELLED
    assert done_events(run) == []  # one file still runs
    assert run.start(later.file_id, "d3", "w", 2, NOW) is None
    run.finish(running.file_id, "d", ALIGNED, NOW)
    [done] = done_events(run)
    assert [o.status for o in done.files] == [
        AlignmentOutcome.COMPLETED,
        AlignmentOutcome.FAILED,
        AlignmentOutcome.FAILED,
    ]
    assert run.state is JobState.CANCELLED
    run.cancel(NOW)
    assert len(done_events(run)) == 1


def test_progress_counts_running_files_share() -> None:
    run = job_with(4)
    a, b, _, _ = run.files
    run.start(a.file_id, "a", "w", 2, NOW)
    run.finish(a.file_id, "a", ALIGNED, NOW)
    run.start(b.file_id, "b", "w", 2, NOW)
    run.report(b.file_id, 0.5)
    assert run.percent == int(1.5 * 100 / 4)


def test_a_job_no_engine_can_align_fails_at_once() -> None:
    run = job_with(2)
    run.refuse("no engine for xx", NOW)
    [done] = done_events(run)
    assert done.status is AlignmentOutcome.FAILED
    assert all(o.error == "no engine for xx" for o in done.files)


# -- the use cases on fakes ------------------------------------------------------------


@dataclass
class FakeRuns:
    """Runs kept as copies, as a database keeps rows: only what is saved stays."""

    stored: dict[UUID, JobRun] = field(default_factory=dict)
    pronounced: dict[UUID, dict[str, list[str]]] = field(default_factory=dict)

    async def get(self, job_id: UUID, *, lock: bool = True) -> JobRun | None:
        run = self.stored.get(job_id)
        return None if run is None else copy.deepcopy(run)

    async def add(self, run: JobRun) -> bool:
        if run.job_id in self.stored:
            return False
        self._keep(run)
        return True

    async def save(self, run: JobRun) -> None:
        self._keep(run)

    def _keep(self, run: JobRun) -> None:
        kept = copy.deepcopy(run)
        kept.events, kept.changed = [], set()  # state is stored; events go to the outbox
        self.stored[run.job_id] = kept
        run.changed.clear()

    async def forget_user(self, user_id: UUID) -> None:
        self.stored = {k: v for k, v in self.stored.items() if v.user_id != user_id}

    async def keep_pronunciations(self, job_id: UUID, entries: dict[str, list[str]]) -> None:
        self.pronounced[job_id] = entries

    async def pronunciations(self, job_id: UUID) -> dict[str, list[str]]:
        return self.pronounced.get(job_id, {})

    async def unstarted(self, job_id: UUID) -> set[UUID] | None:
        run = self.stored.get(job_id)
        if run is None:
            return None
        return set() if run.cancelled else {f.file_id for f in run.files if f.state == "PENDING"}


@dataclass
class FakeEngine:
    name: str = "pocketsphinx"


class FakeEngines:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.asked: list[str | None] = []

    def get(self, engine: str | None, language: str | None) -> FakeEngine:
        self.asked.append(engine)
        if self.refuse:
            raise EngineUnavailable("no engine for this language")
        return FakeEngine()


class FakeAligner:
    """Aligns by calling ``behaviour`` with the file's index."""

    def __init__(self, behaviour: Callable[[int], Coroutine[Any, Any, None]]) -> None:
        self.behaviour = behaviour
        self.calls: list[int] = []
        self.formats: list[str] = []

    async def align(
        self,
        engine: Any,
        user_id: UUID,
        job_id: UUID,
        language: str,
        file: StoredFile,
        _: Any,
        pronunciations: dict[str, list[str]] | None = None,
        transcript_format: str = "text",
    ) -> tuple[Any, dict[str, str]]:
        self.calls.append(file.index)
        self.formats.append(transcript_format)
        await self.behaviour(file.index)

        @dataclass
        class Quality:
            low_quality: bool = False

        @dataclass
        class Result:
            words: list[str] = field(default_factory=lambda: ["a", "b"])
            oov: list[str] = field(default_factory=list)
            quality: Quality = field(default_factory=Quality)

        return Result(), {"json": f"{job_id}/{file.corpus_file_id}.json"}


async def succeed(_: int) -> None:
    return None


class Harness:
    def __init__(
        self,
        behaviour: Callable[[int], Coroutine[Any, Any, None]] = succeed,
        *,
        refuse: bool = False,
    ) -> None:
        self.runs = FakeRuns()
        self.outbox: list[tuple[Event, int | None]] = []
        self.aligner = FakeAligner(behaviour)
        self.engines = FakeEngines(refuse)
        self.files = AlignFiles(
            cast(Any, self.engines),
            cast(Any, self.aligner),
            lambda: cast(UnitOfWork, FakeUnitOfWork(self.outbox)),
            max_attempts=2,
            worker="test-worker",
            runs=lambda uow: self.runs,
        )

    def uow(self) -> UnitOfWork:
        return cast(UnitOfWork, FakeUnitOfWork(self.outbox))

    async def plan(self, stored: FilesStored) -> None:
        async with self.uow() as uow:
            await self.files.plan(Envelope.wrap(stored, producer="t", correlation_id="c"), uow)
            await uow.commit()

    def queued(self) -> list[Envelope[FileAlignmentQueued]]:
        return [
            Envelope.wrap(e, producer="t", correlation_id="c")
            for e, _ in self.outbox
            if isinstance(e, FileAlignmentQueued)
        ]

    def done(self) -> list[AlignmentDone]:
        return [e for e, _ in self.outbox if isinstance(e, AlignmentDone)]


def stored_job(n: int, priority: int = 5) -> FilesStored:
    expires = datetime.now(UTC) + timedelta(days=7)
    return FilesStored(
        job_id=uuid4(),
        user_id=uuid4(),
        language="en",
        priority=priority,
        total_bytes=n,
        files=[
            StoredFile(
                corpus_file_id=uuid4(),
                index=i,
                stem=f"f{i}",
                audio_name=f"f{i}.wav",
                text_name=f"f{i}.txt",
                audio_key=f"a/{i}.wav",
                text_key=f"a/{i}.txt",
                duration_seconds=1.0,
                stored_bytes=1,
                audio_sha256="0" * 64,
                expires_at=expires,
            )
            for i in range(n)
        ],
    )


async def test_a_planned_job_queues_each_file_at_its_priority_once() -> None:
    harness = Harness()
    job = stored_job(3, priority=5)
    await harness.plan(job)
    await harness.plan(job)  # a second delivery plans nothing
    queued = [(e, p) for e, p in harness.outbox if isinstance(e, FileAlignmentQueued)]
    assert [e.file.index for e, _ in queued] == [0, 1, 2]
    assert {p for _, p in queued} == {5}
    assert sum(isinstance(e, AlignmentStarted) for e, _ in harness.outbox) == 1


async def test_every_file_aligned_gives_one_alignment_done() -> None:
    harness = Harness()
    await harness.plan(stored_job(3))
    items = harness.queued()
    for item in reversed(items):
        await harness.files.align(item)
    await harness.files.align(items[0])  # a redelivery of a finished file: nothing
    [done] = harness.done()
    assert done.status is AlignmentOutcome.COMPLETED
    assert sorted(harness.aligner.calls) == [0, 1, 2]


async def test_a_lost_connection_mid_file_costs_no_attempt() -> None:
    cut = [True]

    async def interrupted_once(index: int) -> None:
        if cut[0]:
            cut[0] = False
            raise asyncio.CancelledError

    harness = Harness(interrupted_once)
    job = stored_job(1)
    await harness.plan(job)
    [item] = harness.queued()
    with pytest.raises(asyncio.CancelledError):
        await harness.files.align(item)
    run = await harness.runs.get(job.job_id)
    assert run is not None and run.files[0].attempts == 0
    await harness.files.align(item)  # redelivered
    run = await harness.runs.get(job.job_id)
    assert run is not None and (run.files[0].attempts, run.files[0].state) == (1, "ALIGNED")
    assert len(harness.done()) == 1


async def test_a_lost_connection_while_the_result_is_recorded_costs_no_attempt() -> None:
    harness = Harness()
    job = stored_job(1)
    await harness.plan(job)
    [item] = harness.queued()
    runs, reads = harness.runs, [0]
    real_get = runs.get

    async def cut_at_the_second_read(job_id: UUID, *, lock: bool = True) -> JobRun | None:
        reads[0] += 1
        if reads[0] == 2:  # the finish's read: the file aligned, its result not recorded
            raise asyncio.CancelledError
        return await real_get(job_id, lock=lock)

    runs.get = cut_at_the_second_read  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await harness.files.align(item)
    run = await real_get(job.job_id)
    assert run is not None and (run.files[0].attempts, run.files[0].state) == (0, "PENDING")
    await harness.files.align(item)  # redelivered
    run = await real_get(job.job_id)
    assert run is not None and (run.files[0].attempts, run.files[0].state) == (1, "ALIGNED")
    assert len(harness.done()) == 1


async def test_an_error_is_retried_once_then_the_file_fails_alone() -> None:
    async def broken_first(index: int) -> None:
        if index == 0:
            raise RuntimeError("the engine crashed")

    harness = Harness(broken_first)
    await harness.plan(stored_job(2))
    first, second = harness.queued()
    await harness.files.align(second)
    with pytest.raises(RuntimeError):
        await harness.files.align(first)
    await harness.files.align(first)  # a duplicate of the message meanwhile: nothing
    assert harness.aligner.calls.count(0) == 1
    with pytest.raises(RuntimeError):  # the kit sends it back after the failure
        await harness.files.align(first, RETRIED)
    await harness.files.align(first, RETRIED)  # the third delivery gives up
    [done] = harness.done()
    assert [o.status for o in done.files] == [AlignmentOutcome.FAILED, AlignmentOutcome.COMPLETED]
    assert harness.aligner.calls.count(0) == 2


async def test_an_engine_refusal_fails_the_file_without_a_retry() -> None:
    async def refused(index: int) -> None:
        raise EngineFailed("the transcript does not match the audio")

    harness = Harness(refused)
    await harness.plan(stored_job(1))
    [item] = harness.queued()
    await harness.files.align(item)
    [done] = harness.done()
    assert done.status is AlignmentOutcome.FAILED
    assert done.files[0].error == "the transcript does not match the audio"


async def test_a_job_deleted_before_it_was_planned_is_never_queued() -> None:
    harness = Harness()
    job = stored_job(2)
    async with harness.uow() as uow:
        await harness.files.cancel(JobCancelled(job_id=job.job_id, user_id=job.user_id), uow)
        await uow.commit()
    await harness.plan(job)
    assert harness.queued() == [] and harness.done() == []


async def test_cancelling_mid_job_leaves_the_rest_cancelled() -> None:
    harness = Harness()
    job = stored_job(3)
    await harness.plan(job)
    first, second, third = harness.queued()
    await harness.files.align(first)
    async with harness.uow() as uow:
        await harness.files.cancel(JobCancelled(job_id=job.job_id, user_id=job.user_id), uow)
        await uow.commit()
    await harness.files.align(second)
    await harness.files.align(third)
    assert harness.aligner.calls == [0]
    run = await harness.runs.get(job.job_id)
    assert run is not None
    assert [f.state for f in run.files] == ["ALIGNED", "CANCELLED", "CANCELLED"]
    assert len(harness.done()) == 1


async def test_a_job_no_engine_speaks_fails_at_planning() -> None:
    harness = Harness(refuse=True)
    await harness.plan(stored_job(2))
    assert harness.queued() == []
    [done] = harness.done()
    assert done.status is AlignmentOutcome.FAILED


async def test_an_ipa_job_is_read_as_ipa_by_the_engine_that_reads_sounds() -> None:
    harness = Harness()
    job = stored_job(1).model_copy(
        update={"language": "cs", "options": {TRANSCRIPT_FORMAT_OPTION: "ipa"}}
    )
    await harness.plan(job)
    [item] = harness.queued()
    await harness.files.align(item)
    assert harness.engines.asked[-1] == "espeak-phones"
    assert harness.aligner.formats == ["ipa"]
