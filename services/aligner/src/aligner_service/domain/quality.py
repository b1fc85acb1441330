"""A per-file summary that keeps bad alignments from passing as good ones."""

from __future__ import annotations

import statistics

from contracts.results import AlignedWord, AlignmentQuality

__all__ = ["assess"]

MAX_WORD_SECONDS = 3.0
MIN_WORD_SECONDS = 0.02
MIN_ALIGNED_SHARE = 0.9
LOW_CONFIDENCE = 0.5
# A correct transcript still has some words said unclearly (reduced, mumbled, noisy), so
# only a larger share marks the file: see docs/benchmarks.md (bench-confidence).
MAX_LOW_CONFIDENCE_SHARE = 0.1
# The confidence is relative to the sounds the search considers, which are the transcript's:
# with a wholly wrong transcript (pairs mixed up) many wrong words still read 0.6-0.9. The
# file's typical word shows it: right transcripts have a median of 0.94-0.98 on every set
# here, so a median under 0.8 (half the words less than 80% sure) is a mismatch.
MIN_MEDIAN_CONFIDENCE = 0.8
MIN_WORDS_FOR_MEDIAN = 3


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
    confidences = [w.confidence for w in words if w.confidence is not None]
    typical = statistics.median(confidences) if confidences else 1.0
    mismatched = len(confidences) >= MIN_WORDS_FOR_MEDIAN and typical < MIN_MEDIAN_CONFIDENCE
    if mismatched:
        notes.append(
            f"the words as a whole fit the audio poorly (median confidence {typical:.2f}): "
            "is this the transcript of this recording?"
        )
    low = (
        share < MIN_ALIGNED_SHARE
        or len(suspicious) > max(1, len(words) // 10)
        or coarse > len(words) * (1 - MIN_ALIGNED_SHARE)
        or too_unsure
        or mismatched
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
