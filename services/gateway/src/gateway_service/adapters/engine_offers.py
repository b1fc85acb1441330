"""Reads and writes of the engine offers the aligner replicas announced."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import EngineOffer, EnginesAnnounced
from gateway_service.adapters.tables import engine_offers
from gateway_service.domain.engines import OfferRecord

__all__ = ["EngineOffers"]

# A replica not heard from for this long is forgotten (its offers no longer count at all).
FORGET_AFTER = timedelta(days=1)


class EngineOffers:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def all(self) -> list[OfferRecord]:
        rows = (await self._session.execute(select(engine_offers))).all()
        return [
            OfferRecord(
                worker=row.worker,
                offer=EngineOffer.model_validate_json(row.offer),
                is_default=row.is_default,
                announced_at=row.announced_at,
                fresh_until=row.fresh_until,
            )
            for row in rows
        ]

    async def replace(
        self, announced: EnginesAnnounced, announced_at: datetime, fresh_until: datetime
    ) -> bool:
        """The replica's offers become these, unless a later announcement of it is kept
        already (deliveries may come out of order). False when this one is older."""
        worker = announced.worker
        newest = (
            (
                await self._session.execute(
                    select(engine_offers.c.announced_at)
                    .where(engine_offers.c.worker == worker)
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        if newest and max(newest) >= announced_at:
            return False
        await self._session.execute(delete(engine_offers).where(engine_offers.c.worker == worker))
        rows = [
            {
                "worker": worker,
                "engine": offer.engine,
                "ready": offer.ready,
                "is_default": offer.engine == announced.default_engine,
                "offer": offer.model_dump_json(),
                "announced_at": announced_at,
                "fresh_until": fresh_until,
            }
            for offer in {o.engine: o for o in announced.engines}.values()
        ]
        if rows:
            await self._session.execute(insert(engine_offers), rows)
        return True

    async def forget_silent(self, now: datetime) -> None:
        await self._session.execute(
            delete(engine_offers).where(engine_offers.c.fresh_until < now - FORGET_AFTER)
        )
