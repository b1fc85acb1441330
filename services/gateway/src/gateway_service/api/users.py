"""``/api/v1/users``: the plan's limits and usage, and the account's data rights
(export everything, delete everything)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter

from contracts.notifications import ListWebhooks, WebhookInfo, WebhookList
from contracts.rpc import (
    DeleteAccount,
    Done,
    GetQuota,
    GetUser,
    PlanLimits,
    QuotaReport,
    UserProfile,
)
from gateway_service.adapters.repository import JobRecord, JobRepository
from gateway_service.api.deps import CorrelationId, CurrentUser, Rpc, SessionUser
from gateway_service.api.streaming import streamed
from gateway_service.api.views import JobOut, job_out
from gateway_service.domain.access import Principal
from gateway_service.service_layer.downloads import Download
from gateway_service.service_layer.exports import job_pages
from gateway_service.service_layer.recent_quotas import RecentQuotaReports
from servicekit.rpc import RpcClient

__all__ = ["router"]

router = APIRouter(prefix="/users", tags=["users"])


class Usage(BaseModel):
    storage_bytes_used: int
    storage_bytes_reserved: int
    audio_minutes_used: float
    month: str
    concurrent_jobs: int


class QuotaOut(BaseModel):
    subscription: str
    limits: PlanLimits
    usage: Usage


class AccountExport(BaseModel):
    exported_at: datetime
    profile: UserProfile
    quota: QuotaOut
    webhooks: list[WebhookInfo] = Field(default_factory=list)  # without their secrets
    jobs: list[JobOut]


EXPORT_JSON = TypeAdapter(AccountExport)
JOB_JSON = TypeAdapter(JobOut)


def recent_quotas(request: Request) -> RecentQuotaReports:
    reports: RecentQuotaReports = request.app.state.recent_quotas
    return reports


async def quota_of(
    request: Request,
    user: Principal,
    rpc: RpcClient,
    correlation_id: str,
    report: QuotaReport | None = None,
) -> QuotaOut:
    """The plan from auth (RPC, unless a report is given), the running jobs from the
    gateway's own read model."""
    if report is None:
        report = await rpc.call(
            GetQuota(user_id=user.user_id, correlation_id=correlation_id), QuotaReport
        )
        recent_quotas(request).put(user.user_id, report)
    async with request.app.state.unit_of_work() as uow:
        active = await JobRepository(uow.session).count_active(user.user_id)
    return QuotaOut(
        subscription=report.limits.subscription,
        limits=report.limits,
        usage=Usage(
            storage_bytes_used=report.storage_bytes_used,
            storage_bytes_reserved=report.storage_bytes_reserved,
            audio_minutes_used=report.audio_minutes_used,
            month=report.month,
            concurrent_jobs=active,
        ),
    )


@router.get("/quota", response_model=QuotaOut)
async def quota(
    request: Request, user: CurrentUser, rpc: Rpc, correlation_id: CorrelationId
) -> QuotaOut:
    """Your plan's limits and what you use of them."""
    return await quota_of(request, user, rpc, correlation_id)


@router.get("/me/export", response_model=AccountExport)
async def export(
    request: Request, user: CurrentUser, rpc: Rpc, correlation_id: CorrelationId
) -> Response:
    """Everything we hold about you: profile, plan, usage, webhooks, jobs and their files."""
    profile = await rpc.call(
        GetUser(user_id=user.user_id, correlation_id=correlation_id), UserProfile
    )
    head = AccountExport(
        exported_at=datetime.now().astimezone(),
        profile=profile,
        quota=await quota_of(request, user, rpc, correlation_id),
        webhooks=(
            await rpc.call(
                ListWebhooks(user_id=user.user_id, correlation_id=correlation_id), WebhookList
            )
        ).items,
        jobs=[],
    )
    pages = job_pages(request.app.state.unit_of_work, user.user_id)
    return await streamed(Download(export_json(head, pages)), "application/json", {})


async def export_json(
    head: AccountExport, pages: AsyncGenerator[list[JobRecord], None]
) -> AsyncGenerator[bytes, None]:
    """The export's JSON as FastAPI writes the whole model, its jobs written as they are
    read (``jobs`` is the model's last field)."""
    opening = EXPORT_JSON.dump_json(head, by_alias=True)
    if head.jobs or not opening.endswith(b'"jobs":[]}'):
        raise ValueError("the export's head has no jobs, and jobs is its last field")
    prefix, first = opening[:-2], True  # up to and including '"jobs":['
    async with aclosing(pages):
        async for page in pages:
            jobs = b",".join(JOB_JSON.dump_json(job_out(j), by_alias=True) for j in page)
            yield (prefix if first else b",") + jobs
            first = False
    yield (prefix if first else b"") + b"]}"


@router.delete("/me", status_code=status.HTTP_202_ACCEPTED)
async def delete_account(
    request: Request, user: SessionUser, rpc: Rpc, correlation_id: CorrelationId
) -> JSONResponse:
    """Deletes the account, its jobs, files and results, in every service. Your tokens stop
    working at once; the files go within seconds."""
    await rpc.call(DeleteAccount(user_id=user.user_id, correlation_id=correlation_id), Done)
    recent_quotas(request).forget(user.user_id)  # nothing of the account stays here either
    return JSONResponse({"status": "deleting"}, status_code=202)
