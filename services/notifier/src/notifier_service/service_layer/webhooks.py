"""The webhook use cases the gateway asks for (register, list, delete, rotate, deliveries),
and turning a finished job into deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from contracts.notifications import (
    DeliveryInfo,
    JobFinished,
    WebhookCreated,
    WebhookEventType,
    WebhookInfo,
)
from notifier_service.adapters.repository import DeliveryRepository, WebhookRepository
from notifier_service.domain.addresses import (
    AddressPolicy,
    InvalidUrl,
    IPAddress,
    UrlNotAllowed,
    parse_target,
)
from notifier_service.domain.signing import new_secret
from notifier_service.domain.webhooks import (
    MAX_WEBHOOKS_PER_USER,
    TooManyWebhooks,
    Webhook,
    WebhookNotFound,
    subscribers,
)
from servicekit import UnitOfWork, get_logger, utc_naive_now

__all__ = ["Webhooks", "record_deliveries"]

log = get_logger(__name__)

Resolve = Callable[[str, int], Awaitable[list[IPAddress]]]


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _info(webhook: Webhook) -> WebhookInfo:
    return WebhookInfo(
        id=webhook.id,
        url=webhook.url,
        events=webhook.events,
        job_id=webhook.job_id,
        created_at=webhook.created_at.replace(tzinfo=UTC),
    )


def _created(webhook: Webhook) -> WebhookCreated:
    return WebhookCreated(**_info(webhook).model_dump(), secret=webhook.secret)


class Webhooks:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        policy: AddressPolicy,
        resolve: Resolve,
        previous_secret_for: timedelta = timedelta(hours=24),
    ) -> None:
        self._uow = unit_of_work
        self._policy = policy
        self._resolve = resolve
        self._previous_secret_for = previous_secret_for

    async def check_url(self, url: str) -> str:
        """The URL, once it is well formed and every address of its host is allowed."""
        target = parse_target(url)
        try:
            addresses = await self._resolve(target.host, target.port)
        except (OSError, TimeoutError) as exc:
            raise UrlNotAllowed(f"{target.host} could not be resolved") from exc
        except ValueError as exc:  # UnicodeError included: not a host name at all
            raise InvalidUrl("the URL's host is not a valid host name") from exc
        self._policy.check(target.host, addresses)
        return target.url

    async def register(
        self,
        user_id: UUID,
        url: str,
        events: list[WebhookEventType],
        job_id: UUID | None = None,
    ) -> WebhookCreated:
        checked = await self.check_url(url)
        webhook = Webhook(
            id=uuid.uuid4(),
            user_id=user_id,
            url=checked,
            events=list(dict.fromkeys(events)),
            created_at=utc_naive_now(),
            secret=new_secret(),
            job_id=job_id,
        )
        async with self._uow() as uow:
            repository = WebhookRepository(uow.session)
            if job_id is None and await repository.count_endpoints(user_id) >= (
                MAX_WEBHOOKS_PER_USER
            ):
                raise TooManyWebhooks(
                    f"you have {MAX_WEBHOOKS_PER_USER} webhooks already; delete one first",
                    limit=MAX_WEBHOOKS_PER_USER,
                )
            await repository.add(webhook)
            await uow.commit()
        log.info(
            "webhook.registered",
            webhook_id=str(webhook.id),
            user_id=str(user_id),
            job_id=None if job_id is None else str(job_id),
        )
        return _created(webhook)

    async def of_user(self, user_id: UUID) -> list[WebhookInfo]:
        async with self._uow() as uow:
            return [_info(w) for w in await WebhookRepository(uow.session).of_user(user_id)]

    async def delete(self, user_id: UUID, webhook_id: UUID) -> None:
        async with self._uow() as uow:
            if not await WebhookRepository(uow.session).delete(user_id, webhook_id):
                raise WebhookNotFound("no such webhook")
            await uow.commit()
        log.info("webhook.deleted", webhook_id=str(webhook_id), user_id=str(user_id))

    async def rotate_secret(self, user_id: UUID, webhook_id: UUID) -> WebhookCreated:
        """A new secret at once; the old one still signs beside it for a while, so that a
        receiver can switch without losing a delivery."""
        async with self._uow() as uow:
            repository = WebhookRepository(uow.session)
            webhook = await repository.get(user_id, webhook_id, lock=True)
            if webhook is None:
                raise WebhookNotFound("no such webhook")
            webhook.previous_secret = webhook.secret
            webhook.previous_secret_until = utc_naive_now() + self._previous_secret_for
            webhook.secret = new_secret()
            await repository.save_secrets(webhook)
            await uow.commit()
        log.info("webhook.secret_rotated", webhook_id=str(webhook_id), user_id=str(user_id))
        return _created(webhook)

    async def deliveries(self, user_id: UUID, webhook_id: UUID, limit: int) -> list[DeliveryInfo]:
        async with self._uow() as uow:
            if await WebhookRepository(uow.session).get(user_id, webhook_id) is None:
                raise WebhookNotFound("no such webhook")
            found = await DeliveryRepository(uow.session).of_webhook(webhook_id, limit)
        return [
            d.model_copy(
                update={
                    "created_at": _utc(d.created_at),
                    "last_attempt_at": _utc(d.last_attempt_at),
                    "next_attempt_at": _utc(d.next_attempt_at),
                    "delivered_at": _utc(d.delivered_at),
                }
            )
            for d in found
        ]


async def record_deliveries(event: JobFinished, occurred_at: datetime, uow: UnitOfWork) -> int:
    """One delivery per webhook that hears of the finished job (in the event's transaction:
    a redelivered event adds none)."""
    listeners = await WebhookRepository(uow.session).listeners(event.user_id, event.job_id)
    new = subscribers(listeners, event, occurred_at)
    await DeliveryRepository(uow.session).add(new, utc_naive_now())
    return len(new)
