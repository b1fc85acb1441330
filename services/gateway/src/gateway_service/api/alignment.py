"""``/api/v1/alignment``: submit jobs, follow them, download results and audio."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from contracts import JobSubmitted
from contracts.notifications import WebhookCreated
from contracts.rpc import PlanLimits, QuotaReport, ReserveQuota, quota_refusal
from gateway_service.adapters.formats import RENDERED_FORMATS
from gateway_service.adapters.repository import FileRecord, JobRecord, JobRepository
from gateway_service.adapters.upload import BadUpload, MultipartUpload, UploadLimits, UploadTooLarge
from gateway_service.api.deps import CorrelationId, CurrentUser, Limits, Rpc
from gateway_service.api.errors import CORPUS_STATUS, RPC_STATUS, ApiError
from gateway_service.api.streaming import streamed
from gateway_service.api.users import QuotaOut, quota_of, recent_quotas
from gateway_service.api.views import FilesOut, JobDeleted, JobList, JobOut, file_out, job_out
from gateway_service.api.webhooks import forget_callback, register_callback
from gateway_service.domain.access import Principal
from gateway_service.domain.corpus import CorpusRefused
from gateway_service.domain.jobs import FileStatus, JobStatus
from gateway_service.domain.pairing import PairingError
from gateway_service.domain.ranges import RangeNotSatisfiable
from gateway_service.metrics import observe_submit, submitting
from gateway_service.service_layer import downloads
from gateway_service.service_layer.corpus import corpus_limits, unpack_corpus
from gateway_service.service_layer.downloads import SUFFIXES, safe_name
from gateway_service.service_layer.submit import DuplicateSubmission, Submissions, job_dictionary
from servicekit import UnitOfWork
from servicekit.objects import ObjectMissing, Objects
from servicekit.rpc import RpcClient, RpcFailed
from servicekit.timing import stage

__all__ = ["router"]

router = APIRouter(prefix="/alignment", tags=["alignment"])

MEDIA_TYPES = {"json": "application/json", "textgrid": "text/plain; charset=utf-8"} | {
    name: media for name, (media, _) in RENDERED_FORMATS.items()
}
ResultFormat = Literal["json", "textgrid", "csv", "srt", "vtt"]

UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "audio_files[]": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        },
                        "text_files[]": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        },
                        "corpus": {
                            "type": "string",
                            "format": "binary",
                            "description": "instead of audio_files[] and text_files[]: a zip "
                            "of an MFA-style corpus (speaker folders allowed)",
                        },
                        "language": {"type": "string", "default": "en"},
                        "engine": {"type": "string"},
                        "output": {"type": "string"},
                        "validate": {"type": "boolean", "description": "check texts only"},
                        "transcript_format": {
                            "type": "string",
                            "enum": ["text", "ipa"],
                            "default": "text",
                            "description": "ipa: transcripts are IPA words separated by spaces",
                        },
                        "callback_url": {
                            "type": "string",
                            "description": "a webhook for this job alone (its secret is in "
                            "the answer's callback, shown once)",
                        },
                        "dictionary": {
                            "type": "string",
                            "format": "binary",
                            "description": "your pronunciations, MFA format: WORD PHONE ...",
                        },
                    },
                }
            }
        },
    }
}


def _objects(request: Request) -> Objects:
    objects: Objects = request.app.state.objects
    return objects


def _unit_of_work(request: Request) -> UnitOfWork:
    factory = request.app.state.unit_of_work
    uow: UnitOfWork = factory()
    return uow


ObjectStore = Annotated[Objects, Depends(_objects)]


async def _load(request: Request, user_id: UUID, job_id: UUID) -> JobRecord:
    async with _unit_of_work(request) as uow:
        job = await JobRepository(uow.session).get(user_id, job_id)
    if job is None:  # someone else's job is as absent as a job that never was
        raise ApiError(404, "job_not_found", "no such job")
    return job


@router.post(
    "/", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut, openapi_extra=UPLOAD_SCHEMA
)
async def submit(
    request: Request,
    user: CurrentUser,
    objects: ObjectStore,
    rpc: Rpc,
    rate_limits: Limits,
    correlation_id: CorrelationId,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> JSONResponse:
    """Upload audio files with their transcripts (pairs match by file stem, folders
    included), as ``audio_files[]`` and ``text_files[]`` or as one ``corpus`` zip."""
    if idempotency_key:
        async with _unit_of_work(request) as uow:
            existing = await JobRepository(uow.session).by_idempotency_key(
                user.user_id, idempotency_key
            )
        if existing is not None:
            return _accepted(existing)
    await rate_limits.hit("submit_per_user", str(user.user_id))
    with stage("quota"):
        plan = await _admit(request, user, rpc, correlation_id)
    limits = _upload_limits(request.app.state.upload_limits, plan)
    declared = _declared_size(request)
    if declared is not None and declared > limits.max_request_bytes:
        raise ApiError(
            413, "payload_too_large", f"the request is larger than {limits.max_request_bytes} bytes"
        )
    job_id = uuid4()

    def key_for(field: str, index: int) -> str:
        return f"incoming/{user.user_id}/{job_id}/{field}-{index}"

    upload = MultipartUpload(
        objects, key_for, limits, on_field=request.app.state.engine_catalog.check_fields
    )
    try:
        await _receive(request, upload, objects, key_for, limits)
        job, callback = await _record(
            request, user.user_id, job_id, upload, objects, rpc, plan, idempotency_key,
            correlation_id,
        )  # fmt: skip
    except UploadTooLarge as exc:
        raise ApiError(413, "payload_too_large", str(exc)) from exc
    except BadUpload as exc:
        raise ApiError(422, "invalid_upload", str(exc)) from exc
    except CorpusRefused as exc:  # the corpus's parts are deleted already
        raise ApiError(CORPUS_STATUS[exc.code], exc.code, exc.message, exc.details) from exc
    except PairingError as exc:
        await objects.delete([f.key for f in upload.files])
        raise ApiError(422, "unmatched_files", str(exc), details=exc.details) from exc  # type: ignore[arg-type]
    except RpcFailed:  # the quota refused the upload: the error handler says why
        await objects.delete([f.key for f in upload.files])
        raise
    except DuplicateSubmission:
        await objects.delete([f.key for f in upload.files])
        assert idempotency_key is not None
        async with _unit_of_work(request) as uow:
            winner = await JobRepository(uow.session).by_idempotency_key(
                user.user_id, idempotency_key
            )
        assert winner is not None
        return _accepted(winner)
    except Exception:
        await objects.delete([f.key for f in upload.files])
        raise
    finally:
        upload.close()
    return _accepted(job, callback, request)


async def _record(
    request: Request,
    user_id: UUID,
    job_id: UUID,
    upload: MultipartUpload,
    objects: Objects,
    rpc: RpcClient,
    plan: PlanLimits,
    idempotency_key: str | None,
    correlation_id: str,
) -> tuple[JobRecord, WebhookCreated | None]:
    """The job recorded with its quota reserved, and its callback if it asked for one."""

    async def reserve(event: JobSubmitted) -> None:
        sizes = [p.audio_bytes + p.text_bytes for p in event.pairs]
        order = ReserveQuota(
            user_id=user_id,
            job_id=job_id,
            bytes=sum(sizes),
            files=len(sizes),
            largest_file_bytes=max(max(p.audio_bytes, p.text_bytes) for p in event.pairs),
            correlation_id=correlation_id,
        )
        with stage("reserve"):
            report = await rpc.call(order, QuotaReport)
        recent_quotas(request).put(user_id, report)

    callback = await register_callback(
        rpc, user_id, job_id, upload.fields.get("callback_url"), correlation_id
    )
    try:
        job = await Submissions(request.app.state.unit_of_work).create(
            job_id,
            user_id,
            upload.files,
            upload.fields,
            idempotency_key,
            correlation_id,
            plan=plan,
            reserve=reserve,
            check_engines=request.app.state.engine_catalog.check,
            pronunciations=await job_dictionary(objects, upload.files, upload.fields),
        )
    except Exception:  # no job: no callback for it either
        await forget_callback(rpc, user_id, callback, correlation_id)
        raise
    return job, callback


async def _receive(
    request: Request,
    upload: MultipartUpload,
    objects: Objects,
    key_for: Callable[[str, int], str],
    limits: UploadLimits,
) -> None:
    """The request's files into ``incoming/``: its parts, or the files of its corpus zip.
    Their time is left out of ``job_submit_seconds`` (it is the client's bandwidth)."""
    started = time.perf_counter()
    with stage("upload"):
        await upload.receive(request.headers.get("content-type", ""), request.stream())
    if upload.corpus is not None:
        with stage("unpack"):
            corpus = await unpack_corpus(objects, upload.corpus, key_for, corpus_limits(limits))
        upload.files += corpus
    request.state.upload_seconds = time.perf_counter() - started


async def _admit(
    request: Request, user: Principal, rpc: RpcClient, correlation_id: str
) -> PlanLimits:
    """The plan's limits, once the user may start another job at all. A recent report from
    auth may say yes; only a fresh one may say no."""
    submitting(request)  # from here, refusals are counted and the submit is timed
    recent = recent_quotas(request).get(user.user_id)
    if recent is not None:
        quota = await quota_of(request, user, rpc, correlation_id, report=recent)
        if _refusal(request, quota) is None:
            return quota.limits
    quota = await quota_of(request, user, rpc, correlation_id)
    request.state.plan = quota.limits.subscription  # for the refusal's count (api.errors)
    refusal = _refusal(request, quota)
    if refusal is not None:
        raise refusal
    return quota.limits


def _refusal(request: Request, quota: QuotaOut) -> ApiError | None:
    limits, usage = quota.limits, quota.usage
    if usage.concurrent_jobs >= limits.max_concurrent_jobs:
        retry = request.app.state.busy_retry_after
        return ApiError(
            429,
            "too_many_concurrent_jobs",
            f"{usage.concurrent_jobs} of your jobs are still running; your plan allows "
            f"{limits.max_concurrent_jobs} at a time",
            details={"active": usage.concurrent_jobs, "limit": limits.max_concurrent_jobs},
            headers={"Retry-After": str(retry)},
        )
    # Before streaming, the request's declared size stands for the upload's (files and a
    # little multipart framing); auth checks the files' own sizes once they are in.
    declared = _declared_size(request)
    refusal = quota_refusal(
        limits,
        minutes_used=usage.audio_minutes_used,
        bytes_taken=usage.storage_bytes_used + usage.storage_bytes_reserved,
        incoming_bytes=1 if declared is None else declared,
    )
    if refusal is not None:
        status = RPC_STATUS[refusal.code]
        return ApiError(status, refusal.code, refusal.message, details=refusal.details)
    return None


def _declared_size(request: Request) -> int | None:
    """The request's Content-Length, when the client sent one."""
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


def _upload_limits(service: UploadLimits, plan: PlanLimits) -> UploadLimits:
    """The tighter of the service's own limits and the user's plan."""
    return UploadLimits(
        max_file_bytes=min(service.max_file_bytes, plan.max_file_bytes),
        max_request_bytes=service.max_request_bytes,
        max_files_per_field=min(service.max_files_per_field, plan.max_files_per_job),
        max_corpus_bytes=service.max_corpus_bytes,
        max_corpus_entries=service.max_corpus_entries,
        max_compression_ratio=service.max_compression_ratio,
    )


def _accepted(
    job: JobRecord, callback: WebhookCreated | None = None, request: Request | None = None
) -> JSONResponse:
    """202 with the job; ``request``: a new job, whose submit time is observed."""
    if request is not None:
        observe_submit(request, job.plan)
    body = job_out(job).model_dump(mode="json")
    if callback is not None:  # the callback_url's webhook, with its secret: shown once
        body["callback"] = callback.model_dump(mode="json")
    return JSONResponse(
        body,
        status_code=202,
        headers={"Location": f"/api/v1/alignment/{job.id}"},
    )


@router.get("/", response_model=JobList)
async def list_jobs(
    request: Request,
    user: CurrentUser,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobList:
    """Your jobs, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    before = _decode_cursor(cursor) if cursor else None
    async with _unit_of_work(request) as uow:
        page = await JobRepository(uow.session).list(
            user.user_id, status=status_filter, before=before, limit=limit + 1
        )
    more = len(page) > limit
    page = page[:limit]
    next_cursor = _encode_cursor(page[-1]) if more else None
    return JobList(items=[job_out(j) for j in page], next_cursor=next_cursor)


def _encode_cursor(job: JobRecord) -> str:
    return base64.urlsafe_b64encode(f"{job.created_at.isoformat()}|{job.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        created, job_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), UUID(job_id)
    except ValueError as exc:
        raise ApiError(422, "invalid_cursor", "the cursor is not one this API gave out") from exc


@router.get("/{job_id}", response_model=JobOut)
async def get_job(request: Request, job_id: UUID, user: CurrentUser) -> JobOut:
    return job_out(await _load(request, user.user_id, job_id))


@router.delete("/{job_id}", status_code=status.HTTP_202_ACCEPTED, response_model=JobDeleted)
async def delete_job(
    request: Request, job_id: UUID, user: CurrentUser, correlation_id: CorrelationId
) -> JobDeleted:
    """Delete a job with its files and results, cancelling it if it is still running. The
    job is gone from the API at once; its objects go within moments, and their bytes
    return to your storage quota (minutes already used stay used)."""
    if not await Submissions(request.app.state.unit_of_work).delete(
        user.user_id, job_id, correlation_id
    ):
        raise ApiError(404, "job_not_found", "no such job")
    return JobDeleted(id=job_id)


@router.get("/{job_id}/files", response_model=FilesOut)
async def get_files(request: Request, job_id: UUID, user: CurrentUser) -> FilesOut:
    job = await _load(request, user.user_id, job_id)
    return FilesOut(items=[file_out(f) for f in job.files], count=len(job.files))


def _pick_file(job: JobRecord, file_id: UUID | None) -> FileRecord:
    if file_id is None:
        if len(job.files) != 1:
            raise ApiError(422, "file_id_required", "this job has several files: pass file_id")
        return job.files[0]
    for f in job.files:
        if f.id == file_id:
            return f
    raise ApiError(404, "file_not_found", "no such file in this job")


def _available(f: FileRecord, what: str) -> None:
    if f.status is FileStatus.EXPIRED:
        raise ApiError(
            410, "expired", f"the {what} of '{f.audio_name}' has expired and was deleted"
        )


@router.get("/{job_id}/result")
async def get_result(
    request: Request,
    job_id: UUID,
    user: CurrentUser,
    objects: ObjectStore,
    format: Annotated[ResultFormat, Query()] = "json",
    file_id: UUID | None = None,
    level: Annotated[Literal["word", "sentence"], Query()] = "word",
) -> Response:
    """One file's alignment, or a zip of every aligned file of the corpus. Subtitles
    (srt, vtt) have a cue per word, or per sentence with ``level=sentence``."""
    job = await _load(request, user.user_id, job_id)
    if file_id is None and len(job.files) != 1:
        with _refusals():
            archive = downloads.result_archive(objects, _aligned(job), format, level)
            return await streamed(archive, "application/zip", _attachment(f"{job.id}-{format}.zip"))
    f = _pick_file(job, file_id)
    _available(f, "result")
    if f.status is not FileStatus.ALIGNED:
        raise ApiError(
            409, "result_not_ready", f"'{f.audio_name}' is {f.status.value}", {"error": f.error}
        )
    with _refusals():
        download = await downloads.result_file(objects, f, format, level)
        return await streamed(download, MEDIA_TYPES[format], _attachment(f.stem + SUFFIXES[format]))


def _aligned(job: JobRecord) -> list[FileRecord]:
    aligned = [f for f in job.files if f.status is FileStatus.ALIGNED]
    if not aligned:
        expired = any(f.status is FileStatus.EXPIRED for f in job.files)
        raise ApiError(
            410 if expired else 409,
            "expired" if expired else "result_not_ready",
            f"no file of this job has a result (job is {job.status.value})",
        )
    return aligned


def _attachment(name: str) -> dict[str, str]:
    name = safe_name(name).replace("/", "_")
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return {"Content-Disposition": disposition}


@contextmanager
def _refusals() -> Iterator[None]:
    """The download workflows' refusals, as the API answers them."""
    try:
        yield
    except ObjectMissing as exc:
        raise ApiError(410, "expired", "this file is no longer stored") from exc
    except RangeNotSatisfiable as exc:
        raise ApiError(
            416, "range_not_satisfiable", str(exc), headers={"Content-Range": f"bytes */{exc.size}"}
        ) from exc
    except downloads.ValidationOnly as exc:
        raise ApiError(409, "validation_only", str(exc)) from exc
    except downloads.NotCuttable as exc:
        raise ApiError(409, "audio_not_ready", str(exc)) from exc
    except downloads.InvalidSegment as exc:
        raise ApiError(422, "invalid_segment", str(exc)) from exc


@router.get("/{job_id}/download/audio")
async def download_audio(
    request: Request,
    job_id: UUID,
    user: CurrentUser,
    objects: ObjectStore,
    file_id: UUID | None = None,
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    """The file's audio as 16 kHz mono WAV; supports HTTP Range (206)."""
    f = _pick_file(await _load(request, user.user_id, job_id), file_id)
    _available(f, "audio")
    if f.audio_key is None:
        raise ApiError(409, "audio_not_ready", f"'{f.audio_name}' is {f.status.value}")
    headers = {"Accept-Ranges": "bytes"} | _attachment(f.stem + ".wav")
    with _refusals():
        download = await downloads.audio(objects, f.audio_key, range_header)
        return await streamed(download, "audio/wav", headers)


@router.get("/{job_id}/audio/segment")
async def audio_segment(
    request: Request,
    job_id: UUID,
    user: CurrentUser,
    objects: ObjectStore,
    start: Annotated[float, Query(ge=0, allow_inf_nan=False)],
    end: Annotated[float, Query(gt=0, allow_inf_nan=False)],
    file_id: UUID | None = None,
) -> Response:
    """A WAV of exactly ``start`` to ``end`` seconds of the file."""
    f = _pick_file(await _load(request, user.user_id, job_id), file_id)
    _available(f, "audio")
    if f.audio_key is None or f.duration is None:
        raise ApiError(409, "audio_not_ready", f"'{f.audio_name}' is {f.status.value}")
    name = f"{f.stem}-{start:.3f}-{end:.3f}.wav"
    with _refusals():
        download = await downloads.segment(objects, f.audio_key, start, end)
        return await streamed(download, "audio/wav", _attachment(name))
