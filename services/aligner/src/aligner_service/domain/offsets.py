"""Systematic boundary offsets: per class of boundary (the manner of the phone before and
after it, or a pause), the average amount an aligner places it early or late, learnt from
labelled speech and added back.

Where a table comes from matters: one learnt on data whose licence forbids commercial use
(the TIMIT sample) may be measured with but not shipped. `BoundaryCorrections.source` says
where each table came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from aligner_service.engines.base import PhoneTiming

__all__ = [
    "BoundaryCorrections",
    "boundary_class",
    "boundary_errors",
    "correct_boundaries",
    "learn_corrections",
    "manner",
]

PAUSE = "pause"
MANNERS = {
    "vowel": {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY"}
    | {"UH", "UW"},
    "stop": {"P", "B", "T", "D", "K", "G", "CH", "JH"},
    "fricative": {"F", "V", "TH", "DH", "S", "Z", "SH", "ZH", "HH"},
    "nasal": {"M", "N", "NG"},
    "approximant": {"L", "R", "W", "Y"},
}
MANNER_OF = {phone: name for name, phones in MANNERS.items() for phone in phones}
# A class's correction is its mean error shrunk by n / (n + SHRINK): a class seen 20 times
# moves half its mean; fewer than MIN_COUNT boundaries move nothing.
SHRINK = 20
MIN_COUNT = 10
MAX_SHIFT_MS = 20.0
MIN_PHONE_S = 0.01


def manner(phone: str) -> str:
    return MANNER_OF.get(phone.upper().rstrip("012"), "other")


def boundary_class(left: str | None, right: str | None) -> str:
    """'vowel>stop', 'pause>fricative', 'nasal>pause'... (None: a pause)."""
    return f"{manner(left) if left else PAUSE}>{manner(right) if right else PAUSE}"


@dataclass(frozen=True)
class BoundaryCorrections:
    """Milliseconds to add to boundaries of each class (positive: later)."""

    shifts_ms: dict[str, float] = field(default_factory=dict)
    source: str = "none"

    def shift(self, left: str | None, right: str | None) -> float:
        return self.shifts_ms.get(boundary_class(left, right), 0.0) / 1000


def learn_corrections(
    errors: Iterable[tuple[str, float]], source: str, shrink: float = SHRINK
) -> BoundaryCorrections:
    """From (class, reference time - aligner time in ms) pairs."""
    by_class: dict[str, list[float]] = defaultdict(list)
    for name, error_ms in errors:
        by_class[name].append(error_ms)
    shifts = {}
    for name, values in by_class.items():
        if len(values) < MIN_COUNT:
            continue
        mean = sum(values) / len(values) * len(values) / (len(values) + shrink)
        shifts[name] = round(max(-MAX_SHIFT_MS, min(MAX_SHIFT_MS, mean)), 1)
    return BoundaryCorrections(shifts, source)


def boundary_errors(
    phones: list[PhoneTiming], matched: Iterable[tuple[int, float, float]]
) -> list[tuple[str, float]]:
    """(class, error ms) of the start and end of each matched phone: (index in phones,
    reference start, reference end). A start counts where the previous phone touches it or
    a pause precedes it; an end only before a pause (else it is the next phone's start)."""
    errors = []
    for i, start, end in matched:
        p = phones[i]
        before = phones[i - 1] if i > 0 else None
        after = phones[i + 1] if i + 1 < len(phones) else None
        left = before.phone if before and abs(before.end - p.start) < 1e-6 else None
        errors.append((boundary_class(left, p.phone), (start - p.start) * 1000))
        if after is None or abs(after.start - p.end) >= 1e-6:
            errors.append((boundary_class(p.phone, None), (end - p.end) * 1000))
    return errors


def correct_boundaries(
    phones: list[PhoneTiming], corrections: BoundaryCorrections
) -> list[PhoneTiming]:
    """Every boundary moved by its class's correction; no phone shorter than 10 ms."""
    if not corrections.shifts_ms:
        return phones
    out = list(phones)
    for i, p in enumerate(phones):
        before = phones[i - 1] if i > 0 else None
        touching = before is not None and abs(before.end - p.start) < 1e-6
        start = p.start + corrections.shift(before.phone if touching and before else None, p.phone)
        low = out[i - 1].start + MIN_PHONE_S if touching else 0.0
        start = min(max(start, low), p.end - MIN_PHONE_S)
        if touching:
            out[i - 1] = replace(out[i - 1], end=start)
        out[i] = replace(out[i], start=start)
        after = phones[i + 1] if i + 1 < len(phones) else None
        if after is None or abs(after.start - p.end) >= 1e-6:
            end = p.end + corrections.shift(p.phone, None)
            if after is not None:
                end = min(end, after.start)  # never into the next word after the pause
            out[i] = replace(out[i], end=max(end, out[i].start + MIN_PHONE_S))
    return out
