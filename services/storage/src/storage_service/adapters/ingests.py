"""Ingest runs in storage's schema: the SQL behind ``domain.ingests``, nothing more. A stored
pair is also a corpus file: its ``corpus_files`` and ``file_storage_metadata`` rows are
written when the pair is saved STORED, and read back from there."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.strings import MESSAGE_MAX_LENGTH, clip
from servicekit import utc_naive_now
from storage_service.adapters.tables import (
    abandoned_uploads,
    cancelled_jobs,
    corpus_files,
    file_storage_metadata,
    ingest_pairs,
    ingest_runs,
)
from storage_service.domain.ingests import (
    ABANDONED,
    CANCELLED,
    IngestRun,
    IngestState,
    PairRun,
    PairState,
    Rejection,
    StoredPair,
)

__all__ = ["IngestRuns", "SqlIngestRuns"]


class IngestRuns(Protocol):
    """What the service layer needs of stored runs (a fake in the unit tests)."""

    async def refusal(self, job_id: UUID) -> Rejection | None: ...

    async def record_cancelled(self, job_id: UUID, user_id: UUID) -> None: ...

    async def get(self, job_id: UUID, *, lock: bool = True) -> IngestRun | None: ...

    async def add(self, run: IngestRun) -> bool: ...

    async def save(self, run: IngestRun) -> None: ...

    async def forget_user(self, user_id: UUID) -> None: ...


class SqlIngestRuns:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def refusal(self, job_id: UUID) -> Rejection | None:
        """Why the job must not be stored at all: deleted by its owner, or its upload found
        abandoned by the janitor (and deleted) before its JobSubmitted came."""
        if await self._cancelled_at(job_id) is not None:
            return CANCELLED
        found = await self._session.execute(
            select(abandoned_uploads.c.job_id).where(abandoned_uploads.c.job_id == job_id)
        )
        return ABANDONED if found.first() is not None else None

    async def record_cancelled(self, job_id: UUID, user_id: UUID) -> None:
        """Kept (with no run yet, too) so that a JobSubmitted still on its way is refused."""
        await self._session.execute(
            insert(cancelled_jobs)
            .prefix_with("IGNORE")
            .values(job_id=job_id, user_id=user_id, cancelled_at=utc_naive_now())
        )

    async def get(self, job_id: UUID, *, lock: bool = True) -> IngestRun | None:
        """``lock``: the run row is held until the transaction ends, so that replicas
        change one job one at a time (every change is a few short statements). A job
        deleted while it was being planned is seen as cancelled here (cancelled_jobs)."""
        query = select(ingest_runs).where(ingest_runs.c.job_id == job_id)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            return None
        pairs = await self._session.execute(
            select(ingest_pairs)
            .where(ingest_pairs.c.job_id == job_id)
            .order_by(ingest_pairs.c.file_index)
        )
        stored = await self._stored(job_id)
        return IngestRun(
            job_id=row.job_id,
            user_id=row.user_id,
            language=row.language,
            engine=row.engine,
            options=json.loads(row.options),
            priority=row.priority,
            expires_at=row.expires_at,
            pairs=[_pair(p, stored.get(p.file_id)) for p in pairs],
            state=IngestState(row.status),
            cancelled_at=row.cancelled_at or await self._cancelled_at(job_id),
            finished_at=row.finished_at,
        )

    async def add(self, run: IngestRun) -> bool:
        """False when the job has a run already (then nothing is written)."""
        result = await self._session.execute(
            insert(ingest_runs)
            .prefix_with("IGNORE")
            .values(
                job_id=run.job_id,
                user_id=run.user_id,
                language=run.language,
                engine=run.engine,
                options=json.dumps(run.options),
                priority=run.priority,
                status=run.state.value,
                pairs_total=len(run.pairs),
                expires_at=run.expires_at,
                created_at=utc_naive_now(),
                cancelled_at=run.cancelled_at,
                finished_at=run.finished_at,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        if run.pairs:
            await self._session.execute(
                insert(ingest_pairs), [_pair_row(run.job_id, p) for p in run.pairs]
            )
        run.changed.clear()
        return True

    async def save(self, run: IngestRun) -> None:
        await self._session.execute(
            update(ingest_runs)
            .where(ingest_runs.c.job_id == run.job_id)
            .values(
                status=run.state.value,
                cancelled_at=run.cancelled_at,
                finished_at=run.finished_at,
            )
        )
        for pair in run.pairs:
            if pair.file_id not in run.changed:
                continue
            row = _pair_row(run.job_id, pair)
            await self._session.execute(
                update(ingest_pairs)
                .where(ingest_pairs.c.file_id == pair.file_id)
                .values({k: v for k, v in row.items() if k not in ("file_id", "job_id")})
            )
            if pair.stored is not None:
                await self._add_corpus_file(run, pair, pair.stored)
        run.changed.clear()

    async def forget_user(self, user_id: UUID) -> None:
        await self._session.execute(delete(ingest_runs).where(ingest_runs.c.user_id == user_id))

    async def _cancelled_at(self, job_id: UUID) -> datetime | None:
        found = await self._session.execute(
            select(cancelled_jobs.c.cancelled_at).where(cancelled_jobs.c.job_id == job_id)
        )
        cancelled_at: datetime | None = found.scalar()
        return cancelled_at

    async def _stored(self, job_id: UUID) -> dict[UUID, StoredPair]:
        """The job's stored pairs, from the corpus files they became."""
        rows = await self._session.execute(
            select(
                corpus_files.c.id,
                corpus_files.c.duration_seconds,
                file_storage_metadata.c.kind,
                file_storage_metadata.c.size_bytes,
                file_storage_metadata.c.sha256,
            )
            .join(
                file_storage_metadata, file_storage_metadata.c.corpus_file_id == corpus_files.c.id
            )
            .where(corpus_files.c.job_id == job_id)
        )
        facts: dict[UUID, dict[str, Any]] = {}
        for file_id, duration, kind, size, sha256 in rows:
            facts.setdefault(file_id, {"duration_seconds": duration})
            facts[file_id] |= {f"{kind}_bytes": size, f"{kind}_sha256": sha256}
        return {file_id: StoredPair(**found) for file_id, found in facts.items()}

    async def _add_corpus_file(self, run: IngestRun, pair: PairRun, stored: StoredPair) -> None:
        """The corpus file a stored pair became (once: a second save writes nothing)."""
        now = utc_naive_now()
        await self._session.execute(
            insert(corpus_files)
            .prefix_with("IGNORE")
            .values(
                id=pair.file_id,
                job_id=run.job_id,
                user_id=run.user_id,
                file_index=pair.index,
                stem=pair.stem,
                audio_name=pair.audio_name,
                text_name=pair.text_name,
                duration_seconds=stored.duration_seconds,
                status="STORED",
                created_at=now,
            )
        )
        common = {"corpus_file_id": pair.file_id, "expires_at": run.expires_at, "created_at": now}
        await self._session.execute(
            insert(file_storage_metadata).prefix_with("IGNORE"),
            [
                common
                | {
                    "kind": "audio",
                    "size_bytes": stored.audio_bytes,
                    "sha256": stored.audio_sha256,
                    "content_type": "audio/wav",
                },
                common
                | {
                    "kind": "text",
                    "size_bytes": stored.text_bytes,
                    "sha256": stored.text_sha256,
                    "content_type": "text/plain",
                },
            ],
        )


def _pair(row: Row[Any], stored: StoredPair | None) -> PairRun:
    state = PairState(row.state)
    return PairRun(
        file_id=row.file_id,
        index=row.file_index,
        stem=row.stem,
        audio_name=row.audio_name,
        text_name=row.text_name,
        state=state,
        attempts=row.attempts,
        worker=row.worker,
        stored=stored if state is PairState.STORED else None,
        rejection=None if row.code is None else Rejection(row.code, row.reason or ""),
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _pair_row(job_id: UUID, pair: PairRun) -> dict[str, Any]:
    rejection = pair.rejection
    return {
        "file_id": pair.file_id,
        "job_id": job_id,
        "file_index": pair.index,
        "stem": pair.stem,
        "audio_name": pair.audio_name,
        "text_name": pair.text_name,
        "state": pair.state.value,
        "attempts": pair.attempts,
        "worker": pair.worker,
        "code": None if rejection is None else rejection.code[:64],
        "reason": None if rejection is None else clip(rejection.reason, MESSAGE_MAX_LENGTH),
        "started_at": pair.started_at,
        "finished_at": pair.finished_at,
    }
