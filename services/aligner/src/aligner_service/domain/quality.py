"""A per-file summary that keeps bad alignments from passing as good ones."""

from __future__ import annotations

from contracts.results import AlignedWord, AlignmentQuality

__all__ = ["assess"]

MAX_WORD_SECONDS = 3.0
MIN_WORD_SECONDS = 0.02
MIN_ALIGNED_SHARE = 0.9
LOW_CONFIDENCE = 0.5
# A correct transcript still has some words said unclearly (reduced, mumbled, noisy), so
# only a larger share marks the file: see docs/benchmarks.md (bench-confidence).
MAX_LOW_CONFIDENCE_SHARE = 0.1


def assess(
    words: list[AlignedWord],
    words_total: int,
    guessed: int = 0,
    coarse: int = 0,
    notes: list[str] | None = None,
) -> AlignmentQuality:
    """coarse: words only roughly placed (a stretch the exact search could not fit)."""
    suspicious = [
        i
        for i, w in enumerate(words)
        if not MIN_WORD_SECONDS <= w.end - w.start <= MAX_WORD_SECONDS
    ]
    unsure = [
        i for i, w in enumerate(words) if w.confidence is not None and w.confidence < LOW_CONFIDENCE
    ]
    scored = sum(w.confidence is not None for w in words)
    share = len(words) / words_total if words_total else 0.0
    notes = list(notes or [])
    if guessed:
        notes.append(f"{guessed} words were not in the dictionary; their pronunciation was guessed")
    if share < MIN_ALIGNED_SHARE:
        notes.append(f"only {len(words)} of {words_total} words could be aligned")
    if suspicious:
        notes.append(
            f"{len(suspicious)} words last under {MIN_WORD_SECONDS * 1000:.0f} ms "
            f"or over {MAX_WORD_SECONDS:.0f} s"
        )
    too_unsure = scored > 0 and len(unsure) > max(1.0, MAX_LOW_CONFIDENCE_SHARE * scored)
    if too_unsure:
        notes.append(
            f"{len(unsure)} of {scored} words have a low confidence: "
            "the transcript may not match the audio there"
        )
    low = (
        share < MIN_ALIGNED_SHARE
        or len(suspicious) > max(1, len(words) // 10)
        or coarse > len(words) * (1 - MIN_ALIGNED_SHARE)
        or too_unsure
    )
    return AlignmentQuality(
        words_total=words_total,
        words_aligned=len(words),
        aligned_share=round(share, 4),
        suspicious_words=suspicious,
        low_confidence_words=unsure,
        low_quality=low,
        notes=notes,
    )
