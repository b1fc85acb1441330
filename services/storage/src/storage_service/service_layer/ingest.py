"""Turns a submitted job into stored corpus files, or into reasons a user can act on."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from contracts import FileRejection, FilesRejected, FilesStored, JobSubmitted, StoredFile
from contracts.jobs import SubmittedPair
from servicekit import UnitOfWork, get_logger, utc_naive_now
from servicekit.objects import ObjectMissing, Objects
from storage_service.adapters.audio import AudioConverter
from storage_service.adapters.tables import (
    abandoned_uploads,
    cancelled_jobs,
    corpus_files,
    file_storage_metadata,
)
from storage_service.domain.checks import (
    PairRejected,
    TextLimits,
    check_audio_header,
    check_transcript,
)
from storage_service.domain.keys import audio_key, text_key

__all__ = ["Ingest", "IngestLimits"]

log = get_logger(__name__)


@dataclass(frozen=True)
class IngestLimits:
    retention: timedelta
    max_audio_seconds: float
    max_text_bytes: int
    max_text_lines: int
    max_text_line_chars: int


@dataclass(frozen=True)
class _Stored:
    file: StoredFile
    audio_bytes: int
    text_bytes: int
    text_sha256: str


class Ingest:
    def __init__(self, objects: Objects, converter: AudioConverter, limits: IngestLimits) -> None:
        self._objects = objects
        self._converter = converter
        self._limits = limits
        self._text_limits = TextLimits(
            limits.max_text_bytes, limits.max_text_lines, limits.max_text_line_chars
        )

    async def handle(self, job: JobSubmitted, uow: UnitOfWork, correlation_id: str) -> None:
        refusal = await self._refusal(job, uow)
        if refusal is not None:
            log.info("job.refused_before_storing", code=refusal[0])
            refused = [_rejection(p, *refusal) for p in job.pairs]
            uow.emit(
                FilesRejected(job_id=job.job_id, user_id=job.user_id, rejected=refused),
                correlation_id=correlation_id,
            )
            self._delete_upload(job, uow)
            return
        # The user's plan decides how long files are kept; storage's own default otherwise.
        retention = timedelta(days=job.retention_days) if job.retention_days else None
        expires_at = utc_naive_now() + (retention or self._limits.retention)
        stored: list[_Stored] = []
        rejected: list[FileRejection] = []
        with tempfile.TemporaryDirectory(prefix="ingest-") as scratch:
            for pair in job.pairs:
                try:
                    stored.append(await self._store_pair(job, pair, Path(scratch), expires_at))
                except PairRejected as exc:
                    log.info("pair.rejected", index=pair.index, code=exc.code)
                    rejected.append(_rejection(pair, exc.code, exc.reason))
        if stored:
            await self._record(job, stored, uow)
            uow.emit(
                FilesStored(
                    job_id=job.job_id,
                    user_id=job.user_id,
                    language=job.language,
                    engine=job.engine,
                    options=job.options,
                    priority=job.priority,
                    files=[s.file for s in stored],
                    rejected=rejected,
                    total_bytes=sum(s.audio_bytes + s.text_bytes for s in stored),
                ),
                correlation_id=correlation_id,
                priority=job.priority,
            )
        else:
            uow.emit(
                FilesRejected(job_id=job.job_id, user_id=job.user_id, rejected=rejected),
                correlation_id=correlation_id,
            )
        self._delete_upload(job, uow)

    def _delete_upload(self, job: JobSubmitted, uow: UnitOfWork) -> None:
        """The uploaded parts, once what became of them is committed."""
        incoming = [key for p in job.pairs for key in (p.audio_key, p.text_key)]
        uow.after_commit(lambda: self._objects.delete(incoming))

    async def _refusal(self, job: JobSubmitted, uow: UnitOfWork) -> tuple[str, str] | None:
        """Why the job must not be stored at all: deleted by its owner, or its upload found
        abandoned by the janitor (and deleted) before this JobSubmitted came."""
        for table, code, reason in (
            (cancelled_jobs, "cancelled", "the job was deleted"),
            (
                abandoned_uploads,
                "upload_abandoned",
                "the upload was not finished in time and was discarded; submit the files again",
            ),
        ):
            found = await uow.session.execute(
                select(table.c.job_id).where(table.c.job_id == job.job_id)
            )
            if found.first() is not None:
                return code, reason
        return None

    async def _store_pair(
        self, job: JobSubmitted, pair: SubmittedPair, scratch: Path, expires_at: datetime
    ) -> _Stored:
        audio_label = f"audio_files[{pair.index}] '{pair.audio_name}'"
        text_label = f"text_files[{pair.index}] '{pair.text_name}'"
        source, wav, text_path = (scratch / f"{pair.index}.{n}" for n in ("in", "wav", "txt"))
        try:
            await self._objects.download(pair.audio_key, source)
            await self._objects.download(pair.text_key, text_path)
        except ObjectMissing as exc:
            raise PairRejected("upload_missing", f"{audio_label}: the upload was lost") from exc
        with source.open("rb") as head:
            check_audio_header(head.read(8192), audio_label)
        text = check_transcript(text_path.read_bytes(), text_label, self._text_limits)
        duration = await self._converter.to_canonical_wav(source, wav, audio_label)
        if duration > self._limits.max_audio_seconds:
            raise PairRejected(
                "audio_too_long",
                f"{audio_label} lasts {duration:.0f} s; the limit is "
                f"{self._limits.max_audio_seconds:.0f} s",
            )
        text_path.write_text(text, encoding="utf-8")
        keys = (
            audio_key(job.user_id, job.job_id, pair.file_id),
            text_key(job.user_id, job.job_id, pair.file_id),
        )
        await self._objects.upload(keys[0], wav, "audio/wav")
        await self._objects.upload(keys[1], text_path, "text/plain; charset=utf-8")
        audio_bytes, text_bytes = wav.stat().st_size, text_path.stat().st_size
        return _Stored(
            file=StoredFile(
                corpus_file_id=pair.file_id,
                index=pair.index,
                stem=pair.stem,
                audio_name=pair.audio_name,
                text_name=pair.text_name,
                audio_key=keys[0],
                text_key=keys[1],
                duration_seconds=duration,
                stored_bytes=audio_bytes + text_bytes,
                audio_sha256=_sha256(wav),
                expires_at=expires_at.replace(tzinfo=UTC),
            ),
            audio_bytes=audio_bytes,
            text_bytes=text_bytes,
            text_sha256=_sha256(text_path),
        )

    async def _record(self, job: JobSubmitted, stored: list[_Stored], uow: UnitOfWork) -> None:
        now = utc_naive_now()
        await uow.session.execute(
            insert(corpus_files),
            [
                {
                    "id": s.file.corpus_file_id,
                    "job_id": job.job_id,
                    "user_id": job.user_id,
                    "file_index": s.file.index,
                    "stem": s.file.stem,
                    "audio_name": s.file.audio_name,
                    "text_name": s.file.text_name,
                    "duration_seconds": s.file.duration_seconds,
                    "status": "STORED",
                    "created_at": now,
                }
                for s in stored
            ],
        )
        rows = []
        for s in stored:
            expires = s.file.expires_at.replace(tzinfo=None)
            common = {
                "corpus_file_id": s.file.corpus_file_id,
                "expires_at": expires,
                "created_at": now,
            }
            rows.append(
                common
                | {
                    "kind": "audio",
                    "size_bytes": s.audio_bytes,
                    "sha256": s.file.audio_sha256,
                    "content_type": "audio/wav",
                }
            )
            rows.append(
                common
                | {
                    "kind": "text",
                    "size_bytes": s.text_bytes,
                    "sha256": s.text_sha256,
                    "content_type": "text/plain",
                }
            )
        await uow.session.execute(insert(file_storage_metadata), rows)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _rejection(pair: SubmittedPair, code: str, reason: str) -> FileRejection:
    return FileRejection(
        corpus_file_id=pair.file_id,
        index=pair.index,
        audio_name=pair.audio_name,
        text_name=pair.text_name,
        code=code,
        reason=reason,
    )
