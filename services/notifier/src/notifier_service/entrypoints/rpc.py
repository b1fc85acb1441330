"""The notifier's answers to the gateway's webhook requests: parse, call, reply."""

from __future__ import annotations

from contracts.notifications import (
    DeleteWebhook,
    DeliveryList,
    ListDeliveries,
    ListWebhooks,
    RegisterWebhook,
    RotateWebhookSecret,
    WebhookCreated,
    WebhookDeleted,
    WebhookList,
)
from notifier_service.service_layer.webhooks import Webhooks
from servicekit.rpc import serve_rpc
from servicekit.runtime import ServiceRuntime

__all__ = ["register_rpc"]


def register_rpc(runtime: ServiceRuntime, webhooks: Webhooks) -> None:
    async def register_webhook(request: RegisterWebhook) -> WebhookCreated:
        return await webhooks.register(request.user_id, request.url, request.events, request.job_id)

    async def list_webhooks(request: ListWebhooks) -> WebhookList:
        return WebhookList(items=await webhooks.of_user(request.user_id))

    async def delete_webhook(request: DeleteWebhook) -> WebhookDeleted:
        await webhooks.delete(request.user_id, request.webhook_id)
        return WebhookDeleted(id=request.webhook_id)

    async def rotate_webhook_secret(request: RotateWebhookSecret) -> WebhookCreated:
        return await webhooks.rotate_secret(request.user_id, request.webhook_id)

    async def list_deliveries(request: ListDeliveries) -> DeliveryList:
        found = await webhooks.deliveries(request.user_id, request.webhook_id, request.limit)
        return DeliveryList(items=found)

    broker, topology = runtime.broker, runtime.topology
    serve_rpc(broker, topology, RegisterWebhook, WebhookCreated, register_webhook)
    serve_rpc(broker, topology, ListWebhooks, WebhookList, list_webhooks)
    serve_rpc(broker, topology, DeleteWebhook, WebhookDeleted, delete_webhook)
    serve_rpc(broker, topology, RotateWebhookSecret, WebhookCreated, rotate_webhook_secret)
    serve_rpc(broker, topology, ListDeliveries, DeliveryList, list_deliveries)
