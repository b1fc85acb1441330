"""Audio minutes: a user pays for the audio that was aligned. Plain Python.

Each stored file is charged when storage has it (FilesStored): its seconds count at once,
so that the plan's monthly limit holds while the job runs. A validate-only job aligns
nothing and is never charged (its files are recorded as free). When the aligner is done
(AlignmentDone), every charged file that was not aligned (failed, or never started because
the job was deleted) gives its seconds back: once, and only to the month it was charged
in (a new month starts from zero anyway). The two facts come from different services and
may arrive in either order: a file the aligner gave up on before its charge was recorded
is marked refunded at once (with no seconds yet), and is never charged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

__all__ = [
    "Charge",
    "ChargeState",
    "Refund",
    "charged_seconds",
    "charges_for",
    "refund_of",
    "unbilled_seconds",
]


class ChargeState(StrEnum):
    CHARGED = "charged"
    REFUNDED = "refunded"
    FREE = "free"  # a validate-only job's file: never charged


@dataclass(frozen=True)
class Charge:
    file_id: UUID
    job_id: UUID
    month: str
    seconds: float
    state: ChargeState


@dataclass(frozen=True)
class Refund:
    seconds: float  # to take off this month's usage
    file_ids: list[UUID]  # charges that become REFUNDED
    uncharged: list[Charge]  # files not charged yet: recorded as refunded, never charged


def charges_for(
    job_id: UUID,
    files: Iterable[tuple[UUID, float]],
    month: str,
    *,
    validate_only: bool,
    refunded_before: Iterable[UUID] = (),
) -> list[Charge]:
    """What storing the job's files costs: each file's seconds, or nothing when it is only
    validated, or when the aligner said before that the file was not aligned."""
    state = ChargeState.FREE if validate_only else ChargeState.CHARGED
    gone = set(refunded_before)
    return [
        Charge(file_id, job_id, month, seconds, ChargeState.REFUNDED if file_id in gone else state)
        for file_id, seconds in files
    ]


def charged_seconds(charges: Iterable[Charge]) -> float:
    return sum(c.seconds for c in charges if c.state is ChargeState.CHARGED)


def refund_of(charges: Iterable[Charge], job_id: UUID, unaligned: set[UUID], month: str) -> Refund:
    """The charges of files that were not aligned go back (each at most once); only those
    of ``month`` (the usage's current month) lower the usage. Files with no charge yet get
    a refunded one of no seconds, so that their charge, when it comes, is none."""
    charges = list(charges)
    back = [c for c in charges if c.state is ChargeState.CHARGED and c.file_id in unaligned]
    known = {c.file_id for c in charges}
    early = [Charge(f, job_id, month, 0.0, ChargeState.REFUNDED) for f in sorted(unaligned - known)]
    return Refund(
        seconds=sum(c.seconds for c in back if c.month == month),
        file_ids=[c.file_id for c in back],
        uncharged=early,
    )


def unbilled_seconds(charges: Iterable[Charge], month: str) -> float:
    """Seconds stored in ``month`` that the user does not pay for (refunded or free): what
    a rebuild from storage's count of stored audio must leave out."""
    return sum(
        c.seconds for c in charges if c.month == month and c.state is not ChargeState.CHARGED
    )
