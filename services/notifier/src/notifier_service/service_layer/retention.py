"""Finished deliveries (and the callbacks of single jobs, once they have none) are kept for
``keep`` (30 days by default: long enough to look at in ``/deliveries``), then deleted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from notifier_service.adapters.repository import DeliveryRepository
from servicekit import UnitOfWork, get_logger, utc_naive_now

__all__ = ["DeliveryPruner"]

log = get_logger(__name__)


class DeliveryPruner:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        keep: timedelta,
        *,
        every: timedelta = timedelta(hours=1),
        batch_size: int = 1000,
    ) -> None:
        self._uow = unit_of_work
        self._keep = keep
        self._every = every
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    async def prune(self) -> tuple[int, int]:
        """One pass: (deliveries, callbacks) deleted."""
        cutoff = utc_naive_now() - self._keep
        deleted = 0
        while True:
            async with self._uow() as uow:
                count = await DeliveryRepository(uow.session).prune(cutoff, self._batch_size)
                await uow.commit()
            deleted += count
            if count < self._batch_size:
                break
            await asyncio.sleep(0)
        async with self._uow() as uow:
            callbacks = await DeliveryRepository(uow.session).prune_callbacks(cutoff)
            await uow.commit()
        return deleted, callbacks

    async def run(self) -> None:
        while True:
            try:
                deliveries, callbacks = await self.prune()
                if deliveries or callbacks:
                    log.info("webhook.pruned", deliveries=deliveries, callbacks=callbacks)
            except Exception as exc:  # the database is away: the next round will do
                log.warning("webhook.prune_failed", error=type(exc).__name__)
            await asyncio.sleep(self._every.total_seconds())

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="delivery-pruner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
