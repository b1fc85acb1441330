"""Events the notifier consumes: finished jobs (to deliver) and deleted users (to forget)."""

from __future__ import annotations

from collections.abc import Callable

from contracts import Envelope, JobFinished, UserDeleted
from notifier_service.adapters.repository import WebhookRepository
from notifier_service.service_layer.webhooks import record_deliveries
from servicekit import UnitOfWork, get_logger
from servicekit.messaging import EventConsumers

__all__ = ["register_consumers"]

log = get_logger(__name__)


def register_consumers(
    consumers: EventConsumers,  # type: ignore[type-arg]
    kick_sender: Callable[[], None],
) -> None:
    @consumers.on(JobFinished)
    async def job_finished(envelope: Envelope[JobFinished], uow: UnitOfWork) -> None:
        """One delivery per listening webhook; the sender takes them once committed."""
        count = await record_deliveries(envelope.payload, envelope.occurred_at, uow)
        if count:

            async def wake() -> None:
                kick_sender()

            uow.after_commit(wake)
        log.info(
            "webhook.deliveries_recorded",
            deliveries=count,
            webhook_event=envelope.payload.event.value,
        )

    @consumers.on(UserDeleted)
    async def user_deleted(envelope: Envelope[UserDeleted], uow: UnitOfWork) -> None:
        await WebhookRepository(uow.session).forget_user(envelope.payload.user_id)
