"""Reads and writes of the audio charges (what each stored file cost in seconds)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.adapters.tables import audio_charges
from auth_service.domain.metering import Charge, ChargeState
from servicekit import utc_naive_now

__all__ = ["AudioCharges"]


def _charge(row: object) -> Charge:
    values = row._mapping  # type: ignore[attr-defined]
    return Charge(
        file_id=values["corpus_file_id"],
        job_id=values["job_id"],
        month=values["month"],
        seconds=values["seconds"],
        state=ChargeState(values["state"]),
    )


class AudioCharges:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(self, user_id: UUID, charges: Iterable[Charge]) -> None:
        """Record the charges; a file's row that exists (refunded before it was charged)
        takes the file's seconds and month and stays refunded."""
        rows = [
            {
                "corpus_file_id": c.file_id,
                "job_id": c.job_id,
                "user_id": user_id,
                "month": c.month,
                "seconds": c.seconds,
                "state": c.state.value,
                "created_at": utc_naive_now(),
            }
            for c in charges
        ]
        if rows:
            statement = mysql.insert(audio_charges)
            await self._session.execute(
                statement.on_duplicate_key_update(
                    seconds=statement.inserted.seconds, month=statement.inserted.month
                ),
                rows,
            )

    async def of_job(self, job_id: UUID) -> list[Charge]:
        query = select(audio_charges).where(audio_charges.c.job_id == job_id)
        rows = await self._session.execute(query.with_for_update())
        return [_charge(row) for row in rows]

    async def of_month(self, user_id: UUID, month: str) -> list[Charge]:
        rows = await self._session.execute(
            select(audio_charges)
            .where(audio_charges.c.user_id == user_id)
            .where(audio_charges.c.month == month)
        )
        return [_charge(row) for row in rows]

    async def mark_refunded(self, file_ids: list[UUID]) -> None:
        if file_ids:
            await self._session.execute(
                update(audio_charges)
                .where(audio_charges.c.corpus_file_id.in_(file_ids))
                .values(state=ChargeState.REFUNDED.value)
            )

    async def forget_before(self, user_id: UUID, month: str) -> None:
        """Charges of months before ``month`` (nothing reads them once their month is over)."""
        await self._session.execute(
            delete(audio_charges)
            .where(audio_charges.c.user_id == user_id)
            .where(audio_charges.c.month < month)
        )
