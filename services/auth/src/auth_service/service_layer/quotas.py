"""Plans and usage: what a user may store and align, reserved before an upload is accepted
and settled from storage's facts (FilesStored, FilesRejected, FileExpired) or released when
the janitor finds the upload abandoned (UploadAbandoned). Minutes follow the aligner's
AlignmentDone: files that were not aligned give theirs back (``domain.metering``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.adapters.charges import AudioCharges
from auth_service.adapters.tables import reservations, subscription_types, usage, users
from auth_service.domain.errors import QuotaExceeded, UserNotFound
from auth_service.domain.metering import (
    charged_seconds,
    charges_for,
    refund_of,
    unbilled_seconds,
)
from contracts import (
    VALIDATE_OPTION,
    AlignmentDone,
    AlignmentOutcome,
    FileExpired,
    FilesRejected,
    FilesStored,
    UploadAbandoned,
)
from contracts.rpc import PlanLimits, QuotaReport, ReserveQuota, StoredUsage, quota_refusal
from servicekit import UnitOfWork, utc_naive_now

__all__ = ["Quotas"]

# A reservation whose upload never reached storage (gateway crash) stops counting after this,
# if the janitor's UploadAbandoned has not released it before.
RESERVATION_LIFETIME = timedelta(hours=1)


def _month(now: datetime) -> str:
    return now.strftime("%Y-%m")


class Quotas:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    async def report(self, user_id: UUID) -> QuotaReport:
        async with self._uow() as uow:
            return await self._report(uow.session, user_id)

    async def reserve(self, request: ReserveQuota) -> QuotaReport:
        """Refuses with the numbers, or holds the bytes for this job. The user's usage row is
        locked meanwhile, so that two uploads cannot both take the last free bytes."""
        async with self._uow() as uow:
            # READ COMMITTED: once the lock is ours, the report must see what the reservation
            # that held it before us committed. Under REPEATABLE READ it would read the
            # snapshot of this transaction's first read, taken before the lock, and two
            # racing uploads could both get the last free bytes.
            await uow.session.connection(execution_options={"isolation_level": "READ COMMITTED"})
            await self._lock_usage(uow.session, request.user_id, read_committed=True)
            report = await self._report(uow.session, request.user_id)
            limits = report.limits
            if request.largest_file_bytes > limits.max_file_bytes:
                raise QuotaExceeded(
                    "file_too_large",
                    f"a file of {request.largest_file_bytes} bytes is over your plan's "
                    f"{limits.max_file_bytes} bytes per file",
                    limit=limits.max_file_bytes,
                )
            if request.files > limits.max_files_per_job:
                raise QuotaExceeded(
                    "too_many_files",
                    f"{request.files} pairs is over your plan's {limits.max_files_per_job} per job",
                    limit=limits.max_files_per_job,
                )
            refusal = quota_refusal(
                limits,
                minutes_used=report.audio_minutes_used,
                bytes_taken=report.storage_bytes_used + report.storage_bytes_reserved,
                incoming_bytes=request.bytes,
            )
            if refusal is not None:
                raise QuotaExceeded(refusal.code, refusal.message, **refusal.details)
            await uow.session.execute(
                insert(reservations)
                .prefix_with("IGNORE")  # the same job asking twice holds its bytes once
                .values(
                    job_id=request.job_id,
                    user_id=request.user_id,
                    bytes=request.bytes,
                    created_at=utc_naive_now(),
                )
            )
            await uow.commit()
        return report.model_copy(
            update={"storage_bytes_reserved": report.storage_bytes_reserved + request.bytes}
        )

    async def settle(self, fact: FilesStored, uow: UnitOfWork) -> None:
        """Storage has the files: the reservation becomes usage (bytes as stored), and the
        files' minutes count (not a validate-only job's: it aligns nothing)."""
        await self._lock_usage(uow.session, fact.user_id)
        await uow.session.execute(delete(reservations).where(reservations.c.job_id == fact.job_id))
        month = _month(utc_naive_now())
        ledger = AudioCharges(uow.session)
        await ledger.forget_before(fact.user_id, month)
        charges = charges_for(
            fact.job_id,
            [(f.corpus_file_id, f.duration_seconds) for f in fact.files],
            month,
            validate_only=fact.options.get(VALIDATE_OPTION) is True,
            refunded_before=[c.file_id for c in await ledger.of_job(fact.job_id)],
        )
        await ledger.put(fact.user_id, charges)
        seconds = charged_seconds(charges)
        await uow.session.execute(
            update(usage)
            .where(usage.c.user_id == fact.user_id)
            .values(
                storage_bytes=usage.c.storage_bytes + fact.total_bytes,
                audio_seconds_month=usage.c.audio_seconds_month + seconds,
            )
        )

    async def refund(self, fact: AlignmentDone, uow: UnitOfWork) -> float:
        """The files that were not aligned give their minutes back (once: each charge is
        refunded at most once, and the inbox sees each AlignmentDone once). Returns the
        seconds given back."""
        unaligned = {f.corpus_file_id for f in fact.files if f.status is AlignmentOutcome.FAILED}
        if not unaligned:
            return 0.0
        try:
            await self._lock_usage(uow.session, fact.user_id)  # first, as settle does
        except UserNotFound:  # the account was deleted, its usage with it
            return 0.0
        ledger = AudioCharges(uow.session)
        charges = await ledger.of_job(fact.job_id)
        refund = refund_of(charges, fact.job_id, unaligned, _month(utc_naive_now()))
        await ledger.mark_refunded(refund.file_ids)
        await ledger.put(fact.user_id, refund.uncharged)
        if refund.seconds > 0:
            await uow.session.execute(
                update(usage)
                .where(usage.c.user_id == fact.user_id)
                .values(
                    audio_seconds_month=func.greatest(
                        usage.c.audio_seconds_month - refund.seconds, 0
                    )
                )
            )
        return refund.seconds

    async def release(self, fact: FilesRejected, uow: UnitOfWork) -> None:
        await uow.session.execute(delete(reservations).where(reservations.c.job_id == fact.job_id))

    async def abandon(self, fact: UploadAbandoned, uow: UnitOfWork) -> None:
        """The janitor deleted the job's upload: its bytes are no longer held. Released
        whatever auth knows of the job: the janitor sends this only for a job it has not
        heard was submitted, and storage refuses such a job should it come after all (its
        FilesRejected would release the same row). A job storage has stored already has no
        reservation left to release."""
        await uow.session.execute(delete(reservations).where(reservations.c.job_id == fact.job_id))

    async def give_back(self, fact: FileExpired, uow: UnitOfWork) -> None:
        await uow.session.execute(
            update(usage)
            .where(usage.c.user_id == fact.user_id)
            .values(storage_bytes=func.greatest(usage.c.storage_bytes - fact.bytes_freed, 0))
        )

    async def rebuild(self, user_id: UUID, facts: StoredUsage) -> bool:
        """Usage as storage counts it (``auth recalculate-usage``). Refused (False) while an
        upload is in flight: storage may count its files already, and settling its
        FilesStored here later would count them twice."""
        async with self._uow() as uow:
            await self._lock_usage(uow.session, user_id)
            if await self._reserved(uow.session, user_id):
                return False
            month = _month(utc_naive_now())
            values: dict[str, object] = {"storage_bytes": facts.stored_bytes}
            if facts.month == month:  # less what was refunded or never charged
                unbilled = unbilled_seconds(
                    await AudioCharges(uow.session).of_month(user_id, month), month
                )
                values["audio_seconds_month"] = max(facts.audio_seconds - unbilled, 0.0)
            await uow.session.execute(
                update(usage).where(usage.c.user_id == user_id).values(**values)
            )
            await uow.commit()
        return True

    async def _reserved(self, session: AsyncSession, user_id: UUID) -> int:
        """Bytes held for uploads not yet stored (a reservation left by a crash expires)."""
        return int((await session.execute(self._reserved_query(user_id))).scalar_one())

    @staticmethod
    def _reserved_query(user_id: UUID) -> Select[Any]:
        since = utc_naive_now() - RESERVATION_LIFETIME
        return (
            select(func.coalesce(func.sum(reservations.c.bytes), 0))
            .where(reservations.c.user_id == user_id)
            .where(reservations.c.created_at > since)
        )

    async def _lock_usage(
        self, session: AsyncSession, user_id: UUID, *, read_committed: bool = False
    ) -> None:
        """Lock the user's usage row until commit (made if missing, rolled over to this
        month). The lock comes before any write: two reservations that each took a shared
        lock first (INSERT IGNORE on an existing row) and then wrote would deadlock.
        ``read_committed``: the transaction is, so a locking read of a missing row takes no
        gap lock, and the usual case (the row is there) costs one read, not two."""
        month = _month(utc_naive_now())
        row_of_user = select(usage.c.month).where(usage.c.user_id == user_id)
        if read_committed:
            locked = (await session.execute(row_of_user.with_for_update())).first()
            if locked is not None:
                await self._roll_over(session, user_id, locked.month, month)
                return
        if (await session.execute(row_of_user)).first() is None:  # a read that locks nothing
            exists = select(users.c.id).where(users.c.id == user_id)
            if (await session.execute(exists)).first() is None:
                raise UserNotFound("this account does not exist (any more)")
            await session.execute(
                insert(usage).prefix_with("IGNORE").values(user_id=user_id, month=month)
            )
        row = (await session.execute(row_of_user.with_for_update())).one()
        await self._roll_over(session, user_id, row.month, month)

    @staticmethod
    async def _roll_over(session: AsyncSession, user_id: UUID, held: str, month: str) -> None:
        if held != month:
            await session.execute(
                update(usage)
                .where(usage.c.user_id == user_id)
                .values(month=month, audio_seconds_month=0)
            )

    async def _report(self, session: AsyncSession, user_id: UUID) -> QuotaReport:
        """Reads only: a user without a usage row yet has used nothing."""
        month = _month(utc_naive_now())
        query = (
            select(
                func.coalesce(usage.c.storage_bytes, 0).label("used_bytes"),
                usage.c.month.label("usage_month"),
                func.coalesce(usage.c.audio_seconds_month, 0).label("audio_seconds_month"),
                self._reserved_query(user_id).scalar_subquery().label("reserved_bytes"),
                subscription_types,
            )
            .select_from(users)
            .join(subscription_types, subscription_types.c.name == users.c.subscription)
            .outerjoin(usage, usage.c.user_id == users.c.id)
            .where(users.c.id == user_id)
        )
        row = (await session.execute(query)).first()
        if row is None:
            raise UserNotFound("this account does not exist (any more)")
        plan = row._mapping
        reserved = int(plan["reserved_bytes"])
        return QuotaReport(
            limits=PlanLimits(
                subscription=plan["name"],
                storage_bytes=plan["storage_bytes"],
                audio_minutes_per_month=plan["audio_minutes_per_month"],
                max_file_bytes=plan["max_file_bytes"],
                max_files_per_job=plan["max_files_per_job"],
                max_concurrent_jobs=plan["max_concurrent_jobs"],
                retention_days=plan["retention_days"],
                queue_priority=plan["queue_priority"],
            ),
            storage_bytes_used=plan["used_bytes"],
            storage_bytes_reserved=reserved,
            # Last month's minutes do not count, even before the row rolls over.
            audio_minutes_used=(
                round(plan["audio_seconds_month"] / 60, 2) if plan["usage_month"] == month else 0.0
            ),
            month=month,
        )
