"""A job's ingest as storage sees it: each pair a small state machine, the job answered when
every pair is final. Plain Python: no SQL, no broker, no S3. Changes collect the events they
cause in ``IngestRun.events`` (the service layer writes them to the outbox with the new
state).

A pair:  PENDING -> RUNNING -> STORED | REJECTED, or REJECTED (``cancelled``) before it
    starts. RUNNING -> PENDING again when its attempt was interrupted rather than failed (a
    lost connection, a shutdown, an unreachable database or S3): that attempt does not
    count. A RUNNING pair delivered again (its worker crashed) is another attempt; an
    attempt that fails unexpectedly is retried, and the pair is REJECTED (``storage_error``)
    when its last allowed attempt fails, or when a delivery comes past that.
A job:   INGESTING until every pair is final; then exactly one event: FilesStored (every
    stored pair in index order, and the rejections) if any pair was stored, FilesRejected
    if none was. Deleted by its owner (cancelled), its pairs that have not started never
    do; a running one finishes (stored, its files are the janitor's to delete with the
    job's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from contracts import (
    Event,
    FileRejection,
    FilesRejected,
    FilesStored,
    JobSubmitted,
    StoredFile,
)
from storage_service.domain.keys import audio_key, text_key

__all__ = [
    "ABANDONED",
    "CANCELLED",
    "IngestRun",
    "IngestState",
    "PairRun",
    "PairState",
    "Rejection",
    "StoredPair",
]


class PairState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STORED = "STORED"
    REJECTED = "REJECTED"


FINAL = frozenset({PairState.STORED, PairState.REJECTED})


class IngestState(StrEnum):
    INGESTING = "INGESTING"
    STORED = "STORED"  # answered with FilesStored
    REJECTED = "REJECTED"  # answered with FilesRejected


@dataclass(frozen=True)
class Rejection:
    """Why a pair was not stored; ``reason`` is written for the user."""

    code: str
    reason: str


CANCELLED = Rejection("cancelled", "the job was deleted")
ABANDONED = Rejection(
    "upload_abandoned",
    "the upload was not finished in time and was discarded; submit the files again",
)
STORAGE_ERROR = "storage_error"


@dataclass(frozen=True)
class StoredPair:
    """What storing one pair gave: its canonical audio (16 kHz mono WAV) and transcript."""

    duration_seconds: float
    audio_bytes: int
    text_bytes: int
    audio_sha256: str
    text_sha256: str


@dataclass
class PairRun:
    file_id: UUID
    index: int
    stem: str
    audio_name: str
    text_name: str
    state: PairState = PairState.PENDING
    attempts: int = 0
    worker: str | None = None  # the replica that works on it, or did
    stored: StoredPair | None = None
    rejection: Rejection | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL


@dataclass
class IngestRun:
    job_id: UUID
    user_id: UUID
    language: str
    engine: str | None
    options: dict[str, Any]
    priority: int
    expires_at: datetime  # naive UTC: when the job's stored files expire
    pairs: list[PairRun]
    state: IngestState = IngestState.INGESTING
    cancelled_at: datetime | None = None
    finished_at: datetime | None = None
    events: list[Event] = field(default_factory=list)
    changed: set[UUID] = field(default_factory=set)  # pairs to save

    @classmethod
    def plan(cls, job: JobSubmitted, expires_at: datetime, now: datetime) -> IngestRun:
        """Every pair pending (a job without pairs is answered at once)."""
        pairs = [PairRun(p.file_id, p.index, p.stem, p.audio_name, p.text_name) for p in job.pairs]
        run = cls(
            job.job_id,
            job.user_id,
            job.language,
            job.engine,
            dict(job.options),
            job.priority,
            expires_at,
            pairs,
        )
        run.changed = {p.file_id for p in pairs}
        run._answer_if_done(now)
        return run

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def pair(self, file_id: UUID) -> PairRun:
        for run in self.pairs:
            if run.file_id == file_id:
                return run
        raise KeyError(f"pair {file_id} is not part of job {self.job_id}")

    def start(
        self,
        file_id: UUID,
        worker: str,
        max_attempts: int,
        now: datetime,
        *,
        resumed: bool = False,
    ) -> int | None:
        """The attempt to make now, or None when there is nothing to do: the pair is final,
        or it has just become so (the job was deleted, or the pair is past its attempts),
        or it runs already and this is a duplicate of its message. ``resumed``: the delivery
        comes again after its worker went away or failed: a running pair starts over."""
        pair = self.pair(file_id)
        if pair.final or (pair.state is PairState.RUNNING and not resumed):
            return None
        self.changed.add(file_id)
        if self.cancelled:
            self._end(pair, None, CANCELLED, now)
            return None
        pair.attempts += 1
        if pair.attempts > max_attempts:
            self._end(pair, None, _storage_error(pair.attempts - 1), now)
            return None
        pair.state, pair.worker, pair.started_at = PairState.RUNNING, worker, now
        return pair.attempts

    def interrupted(self, file_id: UUID, attempt: int) -> None:
        """The attempt was cut short, not failed: it does not count, and the pair waits for
        its next delivery. After a broker blip the message may come back, and start its
        next attempt, before this is recorded: then that attempt goes on, and the one cut
        short still does not count."""
        pair = self.pair(file_id)
        if pair.state is not PairState.RUNNING or not 1 <= attempt <= pair.attempts:
            return
        if attempt == pair.attempts:  # the attempt cut short is the latest: none runs now
            pair.state = PairState.PENDING
        pair.attempts -= 1
        self.changed.add(file_id)

    def failed(self, file_id: UUID, attempt: int, max_attempts: int, now: datetime) -> bool:
        """The attempt failed unexpectedly. True when the delivery is to be tried again
        (the next delivery is the pair's next attempt); False when there is nothing more
        to do: that was its last attempt (the pair is rejected now), or it is final."""
        pair = self.pair(file_id)
        if pair.state is not PairState.RUNNING or pair.attempts != attempt:
            return False
        if attempt < max_attempts:
            return True
        self.changed.add(file_id)
        self._end(pair, None, CANCELLED if self.cancelled else _storage_error(attempt), now)
        return False

    def finish(self, file_id: UUID, outcome: StoredPair | Rejection, now: datetime) -> bool:
        """Record what the attempt gave; False when the pair is no longer running (another
        attempt of it finished first: this result is dropped). A pair refused after its
        job was deleted counts as cancelled (its upload may be gone with the job)."""
        pair = self.pair(file_id)
        if pair.state is not PairState.RUNNING:
            return False
        self.changed.add(file_id)
        if isinstance(outcome, StoredPair):
            self._end(pair, outcome, None, now)
        else:
            self._end(pair, None, CANCELLED if self.cancelled else outcome, now)
        return True

    def refuse(self, rejection: Rejection, now: datetime) -> None:
        """No pair may be stored (the job was deleted, or its upload abandoned, before it
        was planned): all are rejected now."""
        for pair in self.pairs:
            if pair.state is PairState.PENDING:
                self.changed.add(pair.file_id)
                self._end(pair, None, rejection, now)
        self._answer_if_done(now)

    def cancel(self, now: datetime) -> None:
        """Deleted by its owner: pairs not started never will; running ones finish."""
        if self.cancelled_at is None:
            self.cancelled_at = now
        for pair in self.pairs:
            if pair.state is PairState.PENDING:
                self.changed.add(pair.file_id)
                self._end(pair, None, CANCELLED, now)
        self._answer_if_done(now)

    def _end(
        self,
        pair: PairRun,
        stored: StoredPair | None,
        rejection: Rejection | None,
        now: datetime,
    ) -> None:
        pair.state = PairState.STORED if stored is not None else PairState.REJECTED
        pair.stored, pair.rejection, pair.finished_at = stored, rejection, now
        self._answer_if_done(now)

    def _answer_if_done(self, now: datetime) -> None:
        if self.finished or not all(p.final for p in self.pairs):
            return
        self.finished_at = now
        pairs = sorted(self.pairs, key=lambda p: p.index)
        rejected = [self._rejection(p) for p in pairs if p.state is PairState.REJECTED]
        stored = [(p, p.stored) for p in pairs if p.stored is not None]
        if not stored:
            self.state = IngestState.REJECTED
            self.events.append(
                FilesRejected(job_id=self.job_id, user_id=self.user_id, rejected=rejected)
            )
            return
        self.state = IngestState.STORED
        self.events.append(
            FilesStored(
                job_id=self.job_id,
                user_id=self.user_id,
                language=self.language,
                engine=self.engine,
                options=self.options,
                priority=self.priority,
                files=[self._stored_file(p, s) for p, s in stored],
                rejected=rejected,
                total_bytes=sum(s.audio_bytes + s.text_bytes for _, s in stored),
            )
        )

    def _stored_file(self, pair: PairRun, stored: StoredPair) -> StoredFile:
        return StoredFile(
            corpus_file_id=pair.file_id,
            index=pair.index,
            stem=pair.stem,
            audio_name=pair.audio_name,
            text_name=pair.text_name,
            audio_key=audio_key(self.user_id, self.job_id, pair.file_id),
            text_key=text_key(self.user_id, self.job_id, pair.file_id),
            duration_seconds=stored.duration_seconds,
            stored_bytes=stored.audio_bytes + stored.text_bytes,
            audio_sha256=stored.audio_sha256,
            expires_at=self.expires_at.replace(tzinfo=UTC),
        )

    @staticmethod
    def _rejection(pair: PairRun) -> FileRejection:
        rejection = pair.rejection or CANCELLED
        return FileRejection(
            corpus_file_id=pair.file_id,
            index=pair.index,
            audio_name=pair.audio_name,
            text_name=pair.text_name,
            code=rejection.code,
            reason=rejection.reason,
        )


def _storage_error(attempts: int) -> Rejection:
    return Rejection(
        STORAGE_ERROR,
        f"an internal error stopped the storing of this pair {attempts} times; submit it again",
    )
