"""The sender loop: takes due deliveries and sends each in a task of its own.

At most ``concurrency`` deliveries are in flight per process, and at most ``per_webhook`` to
one webhook, so a slow or dead receiver (10 s timeout each) holds a few slots and never the
others, nor the event consumers. A taken delivery is leased (its next attempt moved ahead);
its outcome is recorded after the attempt: a crash in between sends it again later, with the
same ``webhook-id`` (at least once). Failed attempts are retried on the back-off schedule
until the retry window closes; then the delivery is given up (``failed``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from prometheus_client import Counter, Gauge

from notifier_service.adapters.http import WebhookClient
from notifier_service.adapters.repository import DeliveryRepository, DueDelivery
from notifier_service.domain.backoff import RetrySchedule
from notifier_service.domain.signing import signed_headers
from servicekit import UnitOfWork, bind_context, get_logger, utc_naive_now

__all__ = ["Sender"]

log = get_logger(__name__)

LEASE_MARGIN = timedelta(seconds=30)

ATTEMPTS = Counter(
    "webhook_attempts_total", "Webhook delivery attempts by result", ["result"]
)  # delivered | retry | gave_up
IN_FLIGHT = Gauge("webhook_deliveries_in_flight", "Webhook deliveries being sent by this process")


class Sender:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        client: WebhookClient,
        schedule: RetrySchedule,
        *,
        timeout_seconds: float,
        concurrency: int = 16,
        per_webhook: int = 2,
        poll_seconds: float = 1.0,
    ) -> None:
        self._uow = unit_of_work
        self._client = client
        self._schedule = schedule
        self._concurrency = concurrency
        self._per_webhook = per_webhook
        self._poll_seconds = poll_seconds
        self._lease = timedelta(seconds=timeout_seconds * 2) + LEASE_MARGIN
        self._busy: dict[UUID, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.Task[None] | None = None

    def kick(self) -> None:
        """Look for due deliveries now (a new one was recorded, or a slot came free)."""
        self._wake.set()

    async def start(self) -> None:
        await self._client.start()
        self._loop = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        """Stop taking deliveries; attempts under way are cut (their lease brings them back)."""
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            await self._loop
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.stop()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            free = self._concurrency - len(self._tasks)
            if free > 0:
                try:
                    for delivery in await self._take(free):
                        self._launch(delivery)
                    failures = 0
                except Exception as exc:  # the database is away: try again later
                    failures += 1
                    log.warning("webhook.take_failed", error=type(exc).__name__)
            delay = min(self._poll_seconds * 2 ** min(failures, 5), 30.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _take(self, limit: int) -> list[DueDelivery]:
        async with self._uow() as uow:
            due = await DeliveryRepository(uow.session).take_due(
                utc_naive_now(), limit, self._lease, self._busy, self._per_webhook
            )
            await uow.commit()
        return due

    def _launch(self, delivery: DueDelivery) -> None:
        self._busy[delivery.webhook_id] = self._busy.get(delivery.webhook_id, 0) + 1
        task = asyncio.create_task(self._attempt(delivery), name=f"webhook-{delivery.id}")
        self._tasks.add(task)
        IN_FLIGHT.set(len(self._tasks))

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            IN_FLIGHT.set(len(self._tasks))
            left = self._busy.get(delivery.webhook_id, 1) - 1
            if left:
                self._busy[delivery.webhook_id] = left
            else:
                self._busy.pop(delivery.webhook_id, None)
            self._wake.set()

        task.add_done_callback(done)

    async def _attempt(self, delivery: DueDelivery) -> None:
        with bind_context(
            correlation_id=delivery.job_id,
            job_id=delivery.job_id,
            user_id=delivery.user_id,
            webhook_id=delivery.webhook_id,
            delivery_id=delivery.id,
        ):
            try:
                await self._send(delivery)
            except Exception as exc:  # recording failed: the lease brings it back
                log.warning("webhook.record_failed", error=type(exc).__name__)

    async def _send(self, delivery: DueDelivery) -> None:
        headers = signed_headers(delivery.id, delivery.body, delivery.secrets, datetime.now(UTC))
        outcome = await self._client.send(delivery.url, delivery.body, headers)
        attempted = utc_naive_now()
        attempts = delivery.attempts + 1
        next_at = None
        if not outcome.delivered:
            first = delivery.first_attempt_at or attempted
            next_at = self._schedule.next_attempt(attempts, first, attempted)
        async with self._uow() as uow:
            await DeliveryRepository(uow.session).record(delivery.id, outcome, attempted, next_at)
            await uow.commit()
        result = "delivered" if outcome.delivered else "retry" if next_at else "gave_up"
        ATTEMPTS.labels(result=result).inc()
        log.info(
            "webhook.attempt",
            attempt=attempts,
            result=result,
            status_code=outcome.status_code,
            error=outcome.error,
            next_attempt_at=next_at.isoformat() if next_at else None,
        )
