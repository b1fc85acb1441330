"""Reads and writes of webhooks and deliveries: the SQL, nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.notifications import DeliveryInfo, DeliveryStatus, WebhookEventType
from notifier_service.adapters.tables import deliveries, webhooks
from notifier_service.domain.webhooks import DeliveryOutcome, NewDelivery, Webhook, pick_due

__all__ = ["DeliveryRepository", "DueDelivery", "WebhookRepository"]


def _webhook(row: Any) -> Webhook:
    return Webhook(
        id=row.id,
        user_id=row.user_id,
        url=row.url,
        events=[WebhookEventType(e) for e in row.events.split(",") if e],
        created_at=row.created_at,
        secret=row.secret,
        job_id=row.job_id,
        previous_secret=row.previous_secret,
        previous_secret_until=row.previous_secret_until,
    )


def _signing_secrets(row: Any, now: datetime) -> list[str]:
    """The secrets a delivery is signed with (see ``Webhook.signing_secrets``)."""
    webhook = Webhook(
        id=row.webhook_id,
        user_id=row.user_id,
        url=row.url,
        events=[],
        created_at=now,
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_until=row.previous_secret_until,
    )
    return webhook.signing_secrets(now)


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, webhook: Webhook) -> None:
        await self._session.execute(
            insert(webhooks).values(
                id=webhook.id,
                user_id=webhook.user_id,
                url=webhook.url,
                events=",".join(e.value for e in webhook.events),
                job_id=webhook.job_id,
                secret=webhook.secret,
                created_at=webhook.created_at,
            )
        )

    async def count_endpoints(self, user_id: UUID) -> int:
        """The user's webhooks for all jobs (callbacks of one job not counted)."""
        found = await self._session.execute(
            select(func.count())
            .select_from(webhooks)
            .where(webhooks.c.user_id == user_id, webhooks.c.job_id.is_(None))
        )
        return int(found.scalar_one())

    async def of_user(self, user_id: UUID) -> list[Webhook]:
        rows = await self._session.execute(
            select(webhooks)
            .where(webhooks.c.user_id == user_id)
            .order_by(webhooks.c.created_at, webhooks.c.id)
        )
        return [_webhook(r) for r in rows.all()]

    async def get(self, user_id: UUID, webhook_id: UUID, *, lock: bool = False) -> Webhook | None:
        query = select(webhooks).where(webhooks.c.id == webhook_id, webhooks.c.user_id == user_id)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        return None if row is None else _webhook(row)

    async def delete(self, user_id: UUID, webhook_id: UUID) -> bool:
        await self._session.execute(delete(deliveries).where(deliveries.c.webhook_id == webhook_id))
        result = await self._session.execute(
            delete(webhooks).where(webhooks.c.id == webhook_id, webhooks.c.user_id == user_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def save_secrets(self, webhook: Webhook) -> None:
        await self._session.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook.id)
            .values(
                secret=webhook.secret,
                previous_secret=webhook.previous_secret,
                previous_secret_until=webhook.previous_secret_until,
            )
        )

    async def listeners(self, user_id: UUID, job_id: UUID) -> list[Webhook]:
        """The user's webhooks for all jobs, and the callbacks of this job."""
        rows = await self._session.execute(
            select(webhooks).where(
                or_(
                    and_(webhooks.c.user_id == user_id, webhooks.c.job_id.is_(None)),
                    webhooks.c.job_id == job_id,
                )
            )
        )
        return [_webhook(r) for r in rows.all()]

    async def forget_user(self, user_id: UUID) -> None:
        await self._session.execute(delete(deliveries).where(deliveries.c.user_id == user_id))
        await self._session.execute(delete(webhooks).where(webhooks.c.user_id == user_id))


@dataclass(frozen=True)
class DueDelivery:
    """A delivery a sender took, with what it needs to send it."""

    id: str
    webhook_id: UUID
    user_id: UUID
    job_id: UUID
    url: str
    body: str
    attempts: int
    first_attempt_at: datetime | None
    secrets: tuple[str, ...]


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, new: list[NewDelivery], now: datetime) -> None:
        if not new:
            return
        await self._session.execute(
            insert(deliveries),
            [
                {
                    "id": d.id,
                    "webhook_id": d.webhook_id,
                    "user_id": d.user_id,
                    "job_id": d.job_id,
                    "event": d.event.value,
                    "body": d.body,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
                for d in new
            ],
        )

    async def of_webhook(self, webhook_id: UUID, limit: int) -> list[DeliveryInfo]:
        rows = await self._session.execute(
            select(deliveries)
            .where(deliveries.c.webhook_id == webhook_id)
            .order_by(deliveries.c.created_at.desc(), deliveries.c.id)
            .limit(limit)
        )
        return [
            DeliveryInfo(
                id=r.id,
                event=WebhookEventType(r.event),
                job_id=r.job_id,
                status=DeliveryStatus(r.status),
                attempts=r.attempts,
                last_status_code=r.last_status_code,
                last_error=r.last_error,
                created_at=r.created_at,
                last_attempt_at=r.last_attempt_at,
                next_attempt_at=r.next_attempt_at,
                delivered_at=r.delivered_at,
            )
            for r in rows.all()
        ]

    async def take_due(
        self, now: datetime, limit: int, lease: timedelta, busy: dict[UUID, int], per_webhook: int
    ) -> list[DueDelivery]:
        """Up to ``limit`` due deliveries, leased: their next attempt moves ``lease`` ahead
        so no other sender takes them meanwhile (and a crashed sender's come back). Webhooks
        with ``per_webhook`` deliveries in flight here (``busy``) are left for later."""
        rows = (
            await self._session.execute(
                select(deliveries.c.id, deliveries.c.webhook_id)
                .where(deliveries.c.next_attempt_at <= now)
                .order_by(deliveries.c.next_attempt_at)
                .limit(limit * 4)
                .with_for_update(skip_locked=True)
            )
        ).all()
        chosen = pick_due([(r.id, r.webhook_id) for r in rows], busy, per_webhook, limit)
        if not chosen:
            return []
        await self._session.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(chosen))
            .values(next_attempt_at=now + lease)
        )
        return await self._due(chosen, now)

    async def _due(self, ids: list[str], now: datetime) -> list[DueDelivery]:
        found = await self._session.execute(
            select(
                deliveries.c.id,
                deliveries.c.webhook_id,
                deliveries.c.user_id,
                deliveries.c.job_id,
                deliveries.c.body,
                deliveries.c.attempts,
                deliveries.c.first_attempt_at,
                webhooks.c.url,
                webhooks.c.secret,
                webhooks.c.previous_secret,
                webhooks.c.previous_secret_until,
            )
            .join(webhooks, webhooks.c.id == deliveries.c.webhook_id)
            .where(deliveries.c.id.in_(ids))
        )
        return [
            DueDelivery(
                id=r.id,
                webhook_id=r.webhook_id,
                user_id=r.user_id,
                job_id=r.job_id,
                url=r.url,
                body=r.body,
                attempts=r.attempts,
                first_attempt_at=r.first_attempt_at,
                secrets=tuple(_signing_secrets(r, now)),
            )
            for r in found.all()
        ]

    async def record(
        self,
        delivery_id: str,
        outcome: DeliveryOutcome,
        attempted_at: datetime,
        next_attempt_at: datetime | None,
    ) -> None:
        """One attempt's outcome: delivered, to be tried at ``next_attempt_at``, or (no
        next attempt) given up."""
        if outcome.delivered:
            status, delivered_at = DeliveryStatus.DELIVERED, attempted_at
            next_attempt_at = None
        else:
            delivered_at = None
            status = DeliveryStatus.PENDING if next_attempt_at else DeliveryStatus.FAILED
        await self._session.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(
                attempts=deliveries.c.attempts + 1,
                status=status.value,
                last_status_code=outcome.status_code,
                last_error=outcome.error[:500] if outcome.error else None,
                first_attempt_at=func.coalesce(deliveries.c.first_attempt_at, attempted_at),
                last_attempt_at=attempted_at,
                next_attempt_at=next_attempt_at,
                delivered_at=delivered_at,
            )
        )

    async def prune(self, before: datetime, batch_size: int) -> int:
        """Delete up to ``batch_size`` finished deliveries (delivered or given up) created
        before ``before``; how many went."""
        ids = (
            await self._session.execute(
                select(deliveries.c.id)
                .where(deliveries.c.next_attempt_at.is_(None), deliveries.c.created_at < before)
                .limit(batch_size)
            )
        ).scalars()
        batch = list(ids)
        if batch:
            await self._session.execute(delete(deliveries).where(deliveries.c.id.in_(batch)))
        return len(batch)

    async def prune_callbacks(self, before: datetime) -> int:
        """Delete the callbacks of single jobs registered before ``before`` that have no
        delivery left; how many went."""
        result = await self._session.execute(
            delete(webhooks).where(
                webhooks.c.job_id.is_not(None),
                webhooks.c.created_at < before,
                ~exists().where(deliveries.c.webhook_id == webhooks.c.id),
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
