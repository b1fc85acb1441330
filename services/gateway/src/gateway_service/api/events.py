"""``/api/v1/alignment/{id}/events``: follow a job as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from gateway_service.adapters.repository import JobRecord, JobRepository
from gateway_service.api.deps import CurrentUser
from gateway_service.api.errors import ApiError
from gateway_service.api.views import job_out
from gateway_service.domain.jobs import ACTIVE
from servicekit import UnitOfWork

__all__ = ["router"]

router = APIRouter(prefix="/alignment", tags=["alignment"])

EVENTS_POLL_SECONDS = 0.5
EVENTS_MAX_SECONDS = 3600.0


def _unit_of_work(request: Request) -> UnitOfWork:
    factory = request.app.state.unit_of_work
    uow: UnitOfWork = factory()
    return uow


async def _load(request: Request, user_id: UUID, job_id: UUID) -> JobRecord:
    async with _unit_of_work(request) as uow:
        job = await JobRepository(uow.session).get(user_id, job_id)
    if job is None:  # someone else's job is as absent as a job that never was
        raise ApiError(404, "job_not_found", "no such job")
    return job


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "job events"}},
)
async def job_events(request: Request, job_id: UUID, user: CurrentUser) -> EventSourceResponse:
    """Server-Sent Events: a ``job`` event (the job, as ``GET /alignment/{id}`` shows it)
    now and whenever its status or progress changes, until it is finished; ``deleted`` if
    it is deleted meanwhile. A comment every 15 s keeps proxies from closing the stream;
    after an hour it ends, and the client reconnects."""
    await _load(request, user.user_id, job_id)  # 404 before any stream starts
    return EventSourceResponse(_job_changes(request, user.user_id, job_id), ping=15)


async def _job_changes(
    request: Request, user_id: UUID, job_id: UUID
) -> AsyncIterator[ServerSentEvent]:
    # The read model is the one place every replica sees every change: poll it.
    last: dict[str, Any] | None = None
    deadline = time.monotonic() + EVENTS_MAX_SECONDS
    while time.monotonic() < deadline:
        async with _unit_of_work(request) as uow:
            job = await JobRepository(uow.session).get(user_id, job_id)
        if job is None:
            yield ServerSentEvent(json.dumps({"id": str(job_id)}), event="deleted")
            return
        state = job_out(job).model_dump(mode="json")
        if state != last:
            yield ServerSentEvent(json.dumps(state), event="job")
            last = state
        if job.status not in ACTIVE:
            return
        await asyncio.sleep(EVENTS_POLL_SECONDS)
