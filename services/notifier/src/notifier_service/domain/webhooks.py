"""Webhooks and their deliveries, as plain data: who hears of which finished job, and what
a delivery's body is (the same bytes on every attempt)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from contracts.notifications import JobFinished, WebhookEventType
from servicekit.errors import DomainError

__all__ = [
    "MAX_WEBHOOKS_PER_USER",
    "DeliveryOutcome",
    "NewDelivery",
    "TooManyWebhooks",
    "Webhook",
    "WebhookNotFound",
    "delivery_body",
    "new_message_id",
    "pick_due",
    "subscribers",
]

MAX_WEBHOOKS_PER_USER = 20  # endpoints for all jobs (a submit's callback_url is not counted)


class WebhookNotFound(DomainError):
    code = "webhook_not_found"


class TooManyWebhooks(DomainError):
    code = "too_many_webhooks"


@dataclass
class Webhook:
    id: UUID
    user_id: UUID
    url: str
    events: list[WebhookEventType]
    created_at: datetime
    secret: str = field(repr=False)
    job_id: UUID | None = None  # a submit's callback_url: this job only
    previous_secret: str | None = field(default=None, repr=False)
    previous_secret_until: datetime | None = None

    def hears(self, event: JobFinished) -> bool:
        if self.job_id is not None:
            return self.job_id == event.job_id
        return self.user_id == event.user_id and event.event in self.events

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the one before a rotation while it is still honoured."""
        keep_old = (
            self.previous_secret
            and self.previous_secret_until
            and now < (self.previous_secret_until)
        )
        return [self.secret, self.previous_secret] if keep_old else [self.secret]  # type: ignore[list-item]


@dataclass(frozen=True)
class NewDelivery:
    id: str
    webhook_id: UUID
    user_id: UUID
    job_id: UUID
    event: WebhookEventType
    body: str


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt got: a status code (any), or an error before any answer."""

    status_code: int | None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def new_message_id() -> str:
    """The ``webhook-id``: one per delivery, the same on each of its attempts."""
    return f"msg_{uuid.uuid4().hex}"


def delivery_body(event: JobFinished, occurred_at: datetime) -> str:
    """Standard Webhooks' payload shape: ``{"type", "timestamp", "data"}``; ``data`` is the
    job as ``GET /api/v1/alignment/{id}`` shows it."""
    return json.dumps(
        {
            "type": event.event.value,
            "timestamp": occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": event.job.model_dump(mode="json"),
        },
        separators=(",", ":"),
    )


def subscribers(
    webhooks: list[Webhook], event: JobFinished, occurred_at: datetime
) -> list[NewDelivery]:
    """One delivery per webhook that hears of the event."""
    body = delivery_body(event, occurred_at)
    return [
        NewDelivery(new_message_id(), w.id, w.user_id, event.job_id, event.event, body)
        for w in webhooks
        if w.hears(event)
    ]


def pick_due(
    due: list[tuple[str, UUID]], busy: dict[UUID, int], per_webhook: int, limit: int
) -> list[str]:
    """Which of the due deliveries (id, webhook, oldest first) to send now: at most
    ``limit``, and at most ``per_webhook`` in flight to one webhook counting those already
    sending (``busy``), so that one slow receiver cannot take every slot."""
    counts = dict(busy)
    chosen: list[str] = []
    for delivery_id, webhook_id in due:
        if len(chosen) == limit:
            break
        if counts.get(webhook_id, 0) < per_webhook:
            counts[webhook_id] = counts.get(webhook_id, 0) + 1
            chosen.append(delivery_id)
    return chosen
