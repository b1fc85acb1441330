"""Accepting a job: pair the uploaded files, record the job, emit JobSubmitted."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError

from contracts import (
    DICTIONARY_WORDS_OPTION,
    PRONUNCIATIONS_OPTION,
    TRANSCRIPT_FORMAT_OPTION,
    TRANSCRIPT_FORMATS,
    JobCancelled,
    JobSubmitted,
    SubmittedPair,
)
from contracts.rpc import PlanLimits
from gateway_service.adapters.repository import FileRecord, JobRecord, JobRepository
from gateway_service.adapters.upload import UploadedFile
from gateway_service.domain.dictionary import (
    MAX_DICTIONARY_BYTES,
    DictionaryNotSupported,
    InvalidDictionary,
    parse_dictionary,
)
from gateway_service.domain.jobs import ACTIVE, FileStatus, JobStatus
from gateway_service.domain.pairing import pair_by_stem
from gateway_service.metrics import JOBS_SUBMITTED, count_finished, engine_label, plan_label
from gateway_service.service_layer.notifications import announce_cancelled
from servicekit import UnitOfWork, utc_naive_now
from servicekit.errors import DomainError
from servicekit.objects import Objects
from servicekit.timing import stage

__all__ = ["InvalidSubmission", "Submissions", "job_dictionary"]

LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})?$")
ENGINE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
OPTION_FIELDS = ("output", TRANSCRIPT_FORMAT_OPTION)


class InvalidSubmission(DomainError):
    code = "invalid_submission"


class DuplicateSubmission(Exception):
    """Another request with the same Idempotency-Key won the race."""


async def job_dictionary(
    objects: Objects, files: list[UploadedFile], fields: dict[str, str]
) -> dict[str, list[str]] | None:
    """The job's own pronunciations from its ``dictionary`` part (read, then deleted: they
    travel in the job's event), or None without one."""
    parts = [f for f in files if f.field == "dictionary"]
    if not parts:
        return None
    if len(parts) > 1:
        raise InvalidDictionary("send one dictionary part at most")
    language = (fields.get("language") or "en").lower()
    if language.split("-")[0] != "en" or (fields.get("engine") or "pocketsphinx") != (
        "pocketsphinx"
    ):
        raise DictionaryNotSupported(
            "a pronunciation dictionary is used by the pocketsphinx engine, for English "
            "(ARPAbet phones); this job's language or engine would ignore it"
        )
    if parts[0].size > MAX_DICTIONARY_BYTES:
        raise InvalidDictionary(f"the dictionary is larger than {MAX_DICTIONARY_BYTES} bytes")
    data = await objects.get_bytes(parts[0].key)
    await objects.delete([parts[0].key])
    return parse_dictionary(data, arpabet=True)


class Submissions:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    async def delete(self, user_id: UUID, job_id: UUID, correlation_id: str) -> bool:
        """The job leaves the read model now; JobCancelled asks the others to stop working on
        it and delete its files and results (the janitor's FileExpired gives the bytes back).
        False when the user has no such job."""
        async with self._uow() as uow:
            repository = JobRepository(uow.session)
            job = await repository.get(user_id, job_id, lock=True)
            if job is None or not await repository.delete(user_id, job_id):
                return False
            running = job.status in ACTIVE
            announce_cancelled(job, uow)  # webhooks: job.cancelled, if it was running
            uow.emit(
                JobCancelled(job_id=job_id, user_id=user_id, reason="deleted by its owner"),
                correlation_id=correlation_id,
            )
            await uow.commit()
        if running:
            count_finished(JobStatus.CANCELLED.value, job.plan, job.engine, "cancelled")
        return True

    async def create(
        self,
        job_id: UUID,
        user_id: UUID,
        files: list[UploadedFile],
        fields: dict[str, str],
        idempotency_key: str | None,
        correlation_id: str,
        plan: PlanLimits | None = None,
        reserve: Callable[[JobSubmitted], Awaitable[None]] | None = None,
        check_engines: Callable[[str, str | None], Awaitable[None]] | None = None,
        pronunciations: dict[str, list[str]] | None = None,
    ) -> JobRecord:
        """``reserve`` holds the job's room in the user's quota (and refuses it) after the
        files are paired and before the job exists; ``check_engines`` refuses a language
        or engine no aligner could run, before anything is reserved."""
        audio = [f for f in files if f.field == "audio_files"]
        text = [f for f in files if f.field == "text_files"]
        if not audio:
            raise InvalidSubmission(
                "send at least one audio file and its transcript (audio_files[] and "
                "text_files[], or a corpus zip)"
            )
        pairs = pair_by_stem([f.filename for f in audio], [f.filename for f in text])
        language = fields.get("language") or "en"
        if not LANGUAGE.fullmatch(language):
            raise InvalidSubmission(f"'{language[:20]}' is not a language code such as en or pt-BR")
        engine = fields.get("engine") or None
        if engine is not None and not ENGINE.fullmatch(engine):
            raise InvalidSubmission("engine must be an engine name such as pocketsphinx")
        if check_engines is not None:
            await check_engines(language, engine)
        options: dict[str, Any] = {k: fields[k] for k in OPTION_FIELDS if fields.get(k)}
        if fields.get(TRANSCRIPT_FORMAT_OPTION, "text") not in TRANSCRIPT_FORMATS:
            formats = ", ".join(TRANSCRIPT_FORMATS)
            raise InvalidSubmission(f"transcript_format must be one of {formats}")
        validate = fields.get("validate", "").lower()
        if validate not in {"", "true", "false", "1", "0"}:
            raise InvalidSubmission("validate must be true or false")
        if validate in {"true", "1"}:
            options["validate"] = True  # check the texts only; do not align
        event_options = dict(options)
        if pronunciations:  # the job shows how many; its event carries them all
            options[DICTIONARY_WORDS_OPTION] = len(pronunciations)
            event_options = options | {PRONUNCIATIONS_OPTION: pronunciations}
        now = utc_naive_now()
        job = JobRecord(
            id=job_id,
            user_id=user_id,
            status=JobStatus.PENDING,
            progress=0,
            language=language,
            engine=engine,
            options=options,
            error=None,
            created_at=now,
            updated_at=now,
            plan=plan.subscription if plan else None,
            files=[
                FileRecord(
                    id=uuid4(),
                    file_index=i,
                    stem=p.stem,
                    audio_name=audio[p.audio_index].filename,
                    text_name=text[p.text_index].filename,
                    status=FileStatus.PENDING,
                )
                for i, p in enumerate(pairs)
            ],
        )
        event = JobSubmitted(
            job_id=job_id,
            user_id=user_id,
            language=language,
            engine=engine,
            options=event_options,
            priority=plan.queue_priority if plan else 0,
            retention_days=plan.retention_days if plan else None,
            pairs=[
                SubmittedPair(
                    file_id=f.id,
                    index=f.file_index,
                    stem=f.stem,
                    audio_name=f.audio_name,
                    audio_key=audio[p.audio_index].key,
                    audio_bytes=audio[p.audio_index].size,
                    text_name=f.text_name,
                    text_key=text[p.text_index].key,
                    text_bytes=text[p.text_index].size,
                )
                for f, p in zip(job.files, pairs, strict=True)
            ],
        )
        if reserve is not None:
            await reserve(event)
        try:
            with stage("record"):
                async with self._uow() as uow:
                    await JobRepository(uow.session).add(job, idempotency_key)
                    uow.emit(event, correlation_id=correlation_id, priority=event.priority)
                    await uow.commit()
        except IntegrityError as exc:
            if idempotency_key is None:
                raise
            raise DuplicateSubmission from exc
        JOBS_SUBMITTED.labels(plan_label(job.plan), engine_label(job.engine)).inc()
        return job
