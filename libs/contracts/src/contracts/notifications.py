"""Webhooks: the gateway's ``JobFinished`` (a job reached a final state, with the job as the
public API shows it) and the notifier's RPC messages (register, list, delete, rotate a
secret, list deliveries), asked by the gateway for its ``/webhooks`` routes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.envelope import Event
from contracts.rpc import RpcRequest
from contracts.strings import EngineName, FileName, LanguageCode, Message

__all__ = [
    "NOTIFIER_RPC_REQUESTS",
    "URL_MAX_LENGTH",
    "DeleteWebhook",
    "DeliveryInfo",
    "DeliveryList",
    "DeliveryStatus",
    "JobFileView",
    "JobFinished",
    "JobView",
    "ListDeliveries",
    "ListWebhooks",
    "RegisterWebhook",
    "RotateWebhookSecret",
    "WebhookCreated",
    "WebhookDeleted",
    "WebhookEventType",
    "WebhookInfo",
    "WebhookList",
]

URL_MAX_LENGTH = 2048  # webhooks.url (notifier)
SECRET_MAX_LENGTH = 64  # webhooks.secret (notifier)
DELIVERY_ID_MAX_LENGTH = 64  # deliveries.id (notifier): the webhook-id header
STATUS_MAX_LENGTH = 16  # jobs.status, job_files.status (gateway)


class WebhookEventType(StrEnum):
    """What a webhook may subscribe to: a job reached this final state."""

    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    JOB_EXPIRED = "job.expired"


class JobFileView(BaseModel):
    """One file of a job, as ``GET /api/v1/alignment/{id}`` shows it."""

    id: UUID
    audio_name: FileName
    text_name: FileName
    status: str = Field(max_length=STATUS_MAX_LENGTH)
    duration: float | None = None
    error: Message | None = None
    word_count: int | None = None
    oov_count: int | None = None
    low_quality: bool | None = None


class JobView(BaseModel):
    """A job as ``GET /api/v1/alignment/{id}`` shows it (the webhook's ``data``)."""

    id: UUID
    status: str = Field(max_length=STATUS_MAX_LENGTH)
    progress: int
    created_at: datetime
    updated_at: datetime
    language: LanguageCode
    engine: EngineName | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    files: list[JobFileView] = Field(default_factory=list)
    error: Message | None = None


class JobFinished(Event):
    """A job reached a final state (once per state): completed, failed, cancelled by its
    owner, or expired. Published by the gateway, whose read model has the job's view."""

    EVENT_TYPE = "job.finished"

    job_id: UUID
    user_id: UUID
    event: WebhookEventType
    job: JobView


class WebhookInfo(BaseModel):
    id: UUID
    url: str = Field(max_length=URL_MAX_LENGTH)
    events: list[WebhookEventType]
    job_id: UUID | None = Field(default=None, description="set for a submit's callback_url")
    created_at: datetime


class WebhookCreated(WebhookInfo):
    """The only time the secret is shown (creation, rotation)."""

    secret: str = Field(max_length=SECRET_MAX_LENGTH, repr=False)


class WebhookList(BaseModel):
    items: list[WebhookInfo]


class WebhookDeleted(BaseModel):
    id: UUID


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not delivered yet; next_attempt_at says when it is tried
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # given up after the retry window


class DeliveryInfo(BaseModel):
    id: str = Field(max_length=DELIVERY_ID_MAX_LENGTH, description="the webhook-id header")
    event: WebhookEventType
    job_id: UUID
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


class DeliveryList(BaseModel):
    items: list[DeliveryInfo]


class RegisterWebhook(RpcRequest):
    """Refused (``url_not_allowed``) for URLs to private, loopback, link-local and other
    non-public addresses the notifier's allow-list does not permit."""

    QUEUE = "notifier.rpc.register-webhook.v1"

    user_id: UUID
    url: str = Field(min_length=1, max_length=URL_MAX_LENGTH)
    events: list[WebhookEventType] = Field(min_length=1, max_length=len(WebhookEventType))
    job_id: UUID | None = None


class ListWebhooks(RpcRequest):
    QUEUE = "notifier.rpc.list-webhooks.v1"

    user_id: UUID


class DeleteWebhook(RpcRequest):
    QUEUE = "notifier.rpc.delete-webhook.v1"

    user_id: UUID
    webhook_id: UUID


class RotateWebhookSecret(RpcRequest):
    QUEUE = "notifier.rpc.rotate-webhook-secret.v1"

    user_id: UUID
    webhook_id: UUID


class ListDeliveries(RpcRequest):
    QUEUE = "notifier.rpc.list-deliveries.v1"

    user_id: UUID
    webhook_id: UUID
    limit: int = Field(default=50, ge=1, le=200)


NOTIFIER_RPC_REQUESTS: dict[type[RpcRequest], type[BaseModel]] = {
    RegisterWebhook: WebhookCreated,
    ListWebhooks: WebhookList,
    DeleteWebhook: WebhookDeleted,
    RotateWebhookSecret: WebhookCreated,
    ListDeliveries: DeliveryList,
}
