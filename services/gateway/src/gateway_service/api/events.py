"""``/api/v1/alignment/{id}/events``: follow a job as Server-Sent Events; and
``/alignment/{id}/stream-token``, for clients that cannot send headers (a browser's
EventSource): a token for the query string, for that job only, good for minutes.

Each stream subscribes to the process's change feed
(:mod:`gateway_service.service_layer.job_changes`) and reads no database of its own: a
thousand open streams cost what one does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Iterator
from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent

from gateway_service.adapters.repository import JobRecord
from gateway_service.adapters.stream_tokens import StreamTokens
from gateway_service.api.deps import Reader, StreamViewer
from gateway_service.api.errors import ApiError
from gateway_service.api.views import file_out, job_out
from gateway_service.domain.jobs import ACTIVE
from gateway_service.service_layer.job_changes import Change, ChangeKind, JobChanges

__all__ = ["router"]

router = APIRouter(prefix="/alignment", tags=["alignment"])

EVENTS_MAX_SECONDS = 3600.0
PING_SECONDS = 15


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "job events"}},
)
async def job_events(request: Request, job_id: UUID, user_id: StreamViewer) -> EventSourceResponse:
    """Server-Sent Events, until the job is finished. First a ``job`` event with the whole
    job, as ``GET /alignment/{id}`` shows it. Then only what changed: a ``file`` event per
    file whose state changed (the file as ``GET /alignment/{id}/files`` lists it), and a
    ``job`` event ``{"id", "status", "progress", "error"}`` when one of those changed. A
    stream that fell far behind gets the whole job again (a ``job`` event with ``files``).
    ``deleted`` (``{"id"}``) if the job is deleted meanwhile. A comment every 15 s keeps
    proxies from closing the stream; after an hour it ends, and the client reconnects.
    Without an Authorization header: ``?token=`` from ``POST /alignment/{id}/stream-token``."""
    changes: JobChanges = request.app.state.job_changes
    job = await changes.lookup(user_id, job_id)
    if job is None:  # someone else's job is as absent as a job that never was
        raise ApiError(404, "job_not_found", "no such job")
    return EventSourceResponse(follow(changes, job), ping=PING_SECONDS)


class StreamToken(BaseModel):
    token: str
    expires_at: datetime


@router.post("/{job_id}/stream-token", response_model=StreamToken)
async def stream_token(request: Request, job_id: UUID, user: Reader) -> StreamToken:
    """A token that opens this job's event stream without an Authorization header:
    ``GET /alignment/{id}/events?token=...`` (as a browser's EventSource must). It is good
    for this job only, until ``expires_at`` (minutes); ask again to reconnect after that."""
    changes: JobChanges = request.app.state.job_changes
    if await changes.lookup(user.user_id, job_id) is None:
        raise ApiError(404, "job_not_found", "no such job")
    tokens: StreamTokens = request.app.state.stream_tokens
    issued = tokens.issue(user.user_id, job_id)
    return StreamToken(token=issued.token, expires_at=issued.expires_at)


async def follow(
    changes: JobChanges, job: JobRecord, max_seconds: float = EVENTS_MAX_SECONDS
) -> AsyncGenerator[ServerSentEvent, None]:
    """The stream's events; it leaves the feed however it ends (a client gone included)."""
    deadline = time.monotonic() + max_seconds
    with changes.subscribe(job) as subscription:
        while (left := deadline - time.monotonic()) > 0:
            try:
                change = await asyncio.wait_for(subscription.next(), timeout=left)
            except TimeoutError:
                return
            for event in _events(job.id, change):
                yield event
            if change.job is None or change.job.status not in ACTIVE:
                return


def _events(job_id: UUID, change: Change) -> Iterator[ServerSentEvent]:
    if change.kind is ChangeKind.DELETED:
        yield ServerSentEvent(json.dumps({"id": str(job_id)}), event="deleted")
    if change.job is None:  # deleted, or this process stops
        return
    if change.kind is ChangeKind.WHOLE:
        yield ServerSentEvent(job_out(change.job).model_dump_json(), event="job")
        return
    for f in change.files:
        yield ServerSentEvent(file_out(f).model_dump_json(), event="file")
    if change.job_changed:
        job = change.job
        state = {"id": str(job.id), "status": job.status.value, "progress": job.progress}
        yield ServerSentEvent(json.dumps(state | {"error": job.error}), event="job")
