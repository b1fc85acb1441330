"""``/api/v1/webhooks``: endpoints told when jobs finish, answered by the notifier over RPC.
Also the ``callback_url`` of a submit: a webhook for that job alone."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from contracts.notifications import (
    URL_MAX_LENGTH,
    DeleteWebhook,
    DeliveryList,
    ListDeliveries,
    ListWebhooks,
    RegisterWebhook,
    RotateWebhookSecret,
    WebhookCreated,
    WebhookDeleted,
    WebhookEventType,
    WebhookList,
)
from gateway_service.api.deps import CorrelationId, CurrentUser, Rpc
from gateway_service.api.errors import ApiError
from servicekit.logs import get_logger
from servicekit.rpc import RpcClient

__all__ = ["forget_callback", "register_callback", "router"]

log = get_logger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class WebhookBody(BaseModel):
    url: str = Field(
        min_length=1,
        max_length=URL_MAX_LENGTH,
        description="http(s), to a public address",
        examples=["https://example.org/hooks/alignment"],
        json_schema_extra={"format": "uri"},
    )
    events: list[WebhookEventType] = Field(
        default_factory=lambda: list(WebhookEventType),
        min_length=1,
        max_length=len(WebhookEventType),
        description="what to be told of (all four by default)",
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated)
async def create_webhook(
    body: WebhookBody, user: CurrentUser, rpc: Rpc, correlation_id: CorrelationId
) -> WebhookCreated:
    """A webhook for all your jobs. Its ``secret`` (``whsec_...``) is shown only now: verify
    each delivery's ``webhook-signature`` with it (Standard Webhooks)."""
    order = RegisterWebhook(
        user_id=user.user_id, url=body.url, events=body.events, correlation_id=correlation_id
    )
    return await rpc.call(order, WebhookCreated)


@router.get("", response_model=WebhookList)
async def list_webhooks(user: CurrentUser, rpc: Rpc, correlation_id: CorrelationId) -> WebhookList:
    """Your webhooks, a submit's callbacks included (``job_id`` set); never their secrets."""
    return await rpc.call(
        ListWebhooks(user_id=user.user_id, correlation_id=correlation_id), WebhookList
    )


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(
    webhook_id: UUID, user: CurrentUser, rpc: Rpc, correlation_id: CorrelationId
) -> Response:
    """The webhook and its deliveries, pending ones included, are gone."""
    order = DeleteWebhook(
        user_id=user.user_id, webhook_id=webhook_id, correlation_id=correlation_id
    )
    await rpc.call(order, WebhookDeleted)
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookCreated)
async def rotate_secret(
    webhook_id: UUID, user: CurrentUser, rpc: Rpc, correlation_id: CorrelationId
) -> WebhookCreated:
    """A new secret, shown only now. For 24 hours deliveries carry a signature with the old
    secret as well, so receivers can switch without missing one."""
    order = RotateWebhookSecret(
        user_id=user.user_id, webhook_id=webhook_id, correlation_id=correlation_id
    )
    return await rpc.call(order, WebhookCreated)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList)
async def list_deliveries(
    webhook_id: UUID,
    user: CurrentUser,
    rpc: Rpc,
    correlation_id: CorrelationId,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryList:
    """The webhook's deliveries, newest first: status, attempts, the last status code or
    error, and when the next attempt is due."""
    order = ListDeliveries(
        user_id=user.user_id, webhook_id=webhook_id, limit=limit, correlation_id=correlation_id
    )
    return await rpc.call(order, DeliveryList)


async def register_callback(
    rpc: RpcClient, user_id: UUID, job_id: UUID, url: str | None, correlation_id: str
) -> WebhookCreated | None:
    """A submit's ``callback_url``: a webhook for that job alone (all four events)."""
    if not url:
        return None
    if len(url) > URL_MAX_LENGTH:
        raise ApiError(422, "invalid_url", f"callback_url is longer than {URL_MAX_LENGTH}")
    order = RegisterWebhook(
        user_id=user_id,
        url=url,
        events=list(WebhookEventType),
        job_id=job_id,
        correlation_id=correlation_id,
    )
    return await rpc.call(order, WebhookCreated)


async def forget_callback(
    rpc: RpcClient, user_id: UUID, callback: WebhookCreated | None, correlation_id: str
) -> None:
    """A callback registered for a submit that then failed: its job never was. Best effort:
    left behind, it would only never fire (no job finishes under its id)."""
    if callback is None:
        return
    try:
        await rpc.call(
            DeleteWebhook(user_id=user_id, webhook_id=callback.id, correlation_id=correlation_id),
            WebhookDeleted,
        )
    except Exception:
        log.warning("callback_left_behind", webhook_id=str(callback.id))
