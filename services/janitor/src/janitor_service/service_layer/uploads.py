"""Uploads that never became a job: what the janitor hears of jobs, and the sweep of
``incoming/`` that deletes the rest (the rule is in janitor_service.domain.orphans)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from contracts import UploadAbandoned
from janitor_service.adapters import submissions
from janitor_service.domain.orphans import (
    INCOMING,
    IncomingObject,
    Orphans,
    Upload,
    find_orphans,
    group_uploads,
)
from servicekit import UnitOfWork, get_logger, utc_naive_now
from servicekit.objects import Objects

__all__ = ["SweepReport", "record_answered", "record_submitted", "sweep_incoming"]

log = get_logger(__name__)

# A job storage answered needs its row only until the sweep has removed what the upload
# left under incoming/ (within the grace period plus one sweep); kept a week, then deleted,
# so that the table does not grow by a row per job for ever.
ANSWERED_RETENTION = timedelta(days=7)


@dataclass
class SweepReport:
    dry_run: bool
    clock: datetime
    orphans: Orphans = field(default_factory=Orphans)

    def as_dict(self) -> dict[str, object]:
        return {
            "abandoned": [
                {"job_id": str(u.job_id), "user_id": str(u.user_id), "objects": list(u.keys)}
                for u in self.orphans.abandoned
            ],
            "leftovers": [key for u in self.orphans.leftovers for key in u.keys],
        }


async def record_submitted(job_id: UUID, user_id: UUID, uow: UnitOfWork) -> None:
    await submissions.add_submitted(uow.session, job_id, user_id)


async def record_answered(job_id: UUID, user_id: UUID, uow: UnitOfWork) -> None:
    await submissions.add_answered(uow.session, job_id, user_id)


async def sweep_incoming(
    unit_of_work: Callable[[], UnitOfWork],
    objects: Objects,
    grace: timedelta,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> SweepReport:
    """Delete what of ``incoming/`` nobody will take any more, as of ``now``."""
    report = SweepReport(dry_run=dry_run, clock=now or utc_naive_now())
    listed = [
        IncomingObject(o.key, o.last_modified.astimezone(UTC).replace(tzinfo=None))
        for o in await objects.listing(INCOMING)
    ]
    job_ids = {u.job_id for u in group_uploads(listed) if u.job_id is not None}
    async with unit_of_work() as uow:
        known = await submissions.known_jobs(uow.session, job_ids)
    report.orphans = find_orphans(listed, known, grace=grace, now=report.clock)
    if not dry_run:
        for upload in report.orphans.abandoned:
            await _abandon(unit_of_work, objects, upload)
        for upload in report.orphans.leftovers:
            await objects.delete(list(upload.keys))
        async with unit_of_work() as uow:
            forgotten = await submissions.forget_answered(
                uow.session, report.clock - ANSWERED_RETENTION
            )
            await uow.commit()
        log.info("sweep.forgot_answered_jobs", jobs=forgotten)
    log.info(
        "sweep.finished",
        dry_run=dry_run,
        abandoned=len(report.orphans.abandoned),
        leftovers=len(report.orphans.leftovers),
    )
    return report


async def _abandon(
    unit_of_work: Callable[[], UnitOfWork], objects: Objects, upload: Upload
) -> None:
    # The event is committed first: a crash before the deletion only repeats both at the
    # next sweep (consumers take UploadAbandoned twice without harm), where the other order
    # could delete the parts and never tell auth to release the reservation.
    assert upload.job_id is not None and upload.user_id is not None
    async with unit_of_work() as uow:
        uow.emit(
            UploadAbandoned(
                job_id=upload.job_id, user_id=upload.user_id, object_keys=list(upload.keys)
            ),
            correlation_id=str(upload.job_id),
        )
        await uow.commit()
    await objects.delete(list(upload.keys))
    log.info("upload.abandoned", job_id=str(upload.job_id), objects=len(upload.keys))
