"""A job's run as the aligner sees it: each file a small state machine, the job done when
every file is. Plain Python: no SQL, no broker. Changes collect the events they cause in
``JobRun.events`` (the service layer writes them to the outbox with the new state).

A file:  PENDING -> RUNNING -> ALIGNED | FAILED, or CANCELLED before it starts.
    RUNNING -> PENDING again when its attempt was interrupted rather than failed (a lost
    connection, a shutdown, an unreachable database or S3): that attempt does not count.
    A RUNNING file delivered again because its worker crashed or failed is another attempt;
    past ``max_attempts`` it is FAILED. A mere duplicate of its message is ignored.
A job:   RUNNING until every file is final; then one AlignmentDone, COMPLETED if any file
    was aligned, FAILED if none was. Cancelled, its files that have not started never do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from contracts import (
    AlignmentDone,
    AlignmentOutcome,
    AlignmentProgress,
    AlignmentStarted,
    Event,
    FileOutcome,
)

__all__ = ["FileResult", "FileRun", "FileState", "JobRun", "JobState"]

DELETED = "the job was deleted"


class FileState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    ALIGNED = "ALIGNED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


FINAL = frozenset({FileState.ALIGNED, FileState.FAILED, FileState.CANCELLED})


class JobState(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class FileResult:
    """What aligning one file gave: aligned (result keys and counts) or failed (why)."""

    aligned: bool
    result_keys: dict[str, str] = field(default_factory=dict)
    word_count: int = 0
    oov_count: int = 0
    low_quality: bool = False
    error: str | None = None


@dataclass
class FileRun:
    file_id: UUID
    index: int
    state: FileState = FileState.PENDING
    attempts: int = 0
    owner: str | None = None  # the delivery that started it (original or promoted copy)
    worker: str | None = None  # the replica that works on it, or did
    progress: float = 0.0  # share of the file done, while it runs
    result: FileResult | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def outcome(self) -> FileOutcome:
        result = self.result or FileResult(aligned=False, error=DELETED)
        return FileOutcome(
            corpus_file_id=self.file_id,
            status=AlignmentOutcome.COMPLETED if result.aligned else AlignmentOutcome.FAILED,
            result_keys=result.result_keys,
            word_count=result.word_count,
            oov_count=result.oov_count,
            low_quality=result.low_quality,
            error=result.error,
        )


@dataclass
class JobRun:
    job_id: UUID
    user_id: UUID
    engine: str
    files: list[FileRun]
    state: JobState = JobState.RUNNING
    cancelled: bool = False
    finished_at: datetime | None = None
    events: list[Event] = field(default_factory=list)
    changed: set[UUID] = field(default_factory=set)  # files to save

    @classmethod
    def plan(
        cls, job_id: UUID, user_id: UUID, engine: str, files: list[tuple[UUID, int]]
    ) -> JobRun:
        run = cls(job_id, user_id, engine, [FileRun(f, i) for f, i in files])
        run.changed = {f.file_id for f in run.files}
        run.events.append(
            AlignmentStarted(
                job_id=job_id, user_id=user_id, engine=engine, attempt=1, file_count=len(files)
            )
        )
        return run

    @classmethod
    def deleted_before_planned(cls, job_id: UUID, user_id: UUID, now: datetime) -> JobRun:
        """Its JobCancelled came first: the job's files are never queued."""
        return cls(job_id, user_id, "-", [], JobState.CANCELLED, cancelled=True, finished_at=now)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def files_done(self) -> int:
        return sum(f.final for f in self.files)

    @property
    def percent(self) -> int:
        running = sum(f.progress for f in self.files if f.state is FileState.RUNNING)
        return int((self.files_done + running) * 100 / len(self.files)) if self.files else 100

    def file(self, file_id: UUID) -> FileRun:
        for run in self.files:
            if run.file_id == file_id:
                return run
        raise KeyError(f"file {file_id} is not part of job {self.job_id}")

    def start(
        self,
        file_id: UUID,
        delivery: str,
        worker: str,
        max_attempts: int,
        now: datetime,
        *,
        resumed: bool = False,
    ) -> int | None:
        """The attempt to make now, or None when there is nothing to do: the file is final,
        the job was cancelled, the file's other copy (original or promoted) owns it, or it
        runs already and this is a duplicate of its message. ``resumed``: the delivery
        comes again after its worker went away or failed: a running file starts over."""
        file = self.file(file_id)
        if file.final or file.owner not in (None, delivery):
            return None
        if file.state is FileState.RUNNING and not resumed:
            return None
        self.changed.add(file_id)
        if self.cancelled:
            self._end(file, FileState.CANCELLED, None, now)
            return None
        file.attempts += 1
        if file.attempts > max_attempts:
            failed = FileResult(
                aligned=False,
                error=f"an internal error stopped the alignment of this file "
                f"{file.attempts - 1} times",
            )
            self._end(file, FileState.FAILED, failed, now)
            return None
        file.state, file.owner, file.worker = FileState.RUNNING, delivery, worker
        file.progress, file.started_at = 0.0, now
        return file.attempts

    def interrupted(self, file_id: UUID, delivery: str, attempt: int) -> None:
        """The attempt was cut short, not failed: it does not count, and the file waits
        for its next delivery. After a broker blip the message may come back, and start its
        next attempt, before this is recorded: then that attempt goes on, and the one cut
        short still does not count."""
        file = self.file(file_id)
        if file.state is not FileState.RUNNING or file.owner != delivery:
            return
        if not 1 <= attempt <= file.attempts:
            return
        if attempt == file.attempts:  # the attempt cut short is the latest: none runs now
            file.state, file.progress = FileState.PENDING, 0.0
        file.attempts -= 1
        self.changed.add(file_id)

    def finish(self, file_id: UUID, delivery: str, result: FileResult, now: datetime) -> bool:
        """Record the file's result; False when this delivery no longer owns the file (its
        result is dropped: the job already has one)."""
        file = self.file(file_id)
        if file.state is not FileState.RUNNING or file.owner != delivery:
            return False
        self.changed.add(file_id)
        self._end(file, FileState.ALIGNED if result.aligned else FileState.FAILED, result, now)
        return True

    def report(self, file_id: UUID, share: float) -> None:
        """Progress within a long file."""
        file = self.file(file_id)
        if file.state is not FileState.RUNNING:
            return
        file.progress = max(0.0, min(share, 1.0))
        self.changed.add(file_id)
        self.events.append(
            AlignmentProgress(
                job_id=self.job_id,
                user_id=self.user_id,
                files_done=self.files_done,
                files_total=len(self.files),
                percent=self.percent,
            )
        )

    def refuse(self, reason: str, now: datetime) -> None:
        """No file can be aligned (e.g. no engine for the job's language): all fail now."""
        for file in self.files:
            if file.state is FileState.PENDING:
                self.changed.add(file.file_id)
                self._end(file, FileState.FAILED, FileResult(aligned=False, error=reason), now)

    def cancel(self, now: datetime) -> None:
        """Deleted by its owner: files not started never will; running ones finish."""
        if self.cancelled:
            return
        self.cancelled = True
        self.state = JobState.CANCELLED
        for file in self.files:
            if file.state is FileState.PENDING:
                self.changed.add(file.file_id)
                file.state, file.finished_at = FileState.CANCELLED, now
        self._finish_if_done(now)

    def _end(
        self, file: FileRun, state: FileState, result: FileResult | None, now: datetime
    ) -> None:
        file.state, file.result, file.finished_at, file.progress = state, result, now, 0.0
        self.events.append(
            AlignmentProgress(
                job_id=self.job_id,
                user_id=self.user_id,
                corpus_file_id=file.file_id,
                file_status=file.outcome().status.value,
                files_done=self.files_done,
                files_total=len(self.files),
                percent=self.percent,
            )
        )
        self._finish_if_done(now)

    def _finish_if_done(self, now: datetime) -> None:
        if self.finished or not all(f.final for f in self.files):
            return
        self.finished_at = now
        aligned = sum(f.state is FileState.ALIGNED for f in self.files)
        status = AlignmentOutcome.COMPLETED if aligned else AlignmentOutcome.FAILED
        if not self.cancelled:
            self.state = JobState.COMPLETED if aligned else JobState.FAILED
        self.events.append(
            AlignmentDone(
                job_id=self.job_id,
                user_id=self.user_id,
                status=status,
                engine=self.engine,
                files=[f.outcome() for f in sorted(self.files, key=lambda f: f.index)],
                error=None if aligned else "no file could be aligned",
            )
        )
