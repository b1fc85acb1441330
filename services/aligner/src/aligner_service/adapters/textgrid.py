"""Praat TextGrid (long form) with word and phone tiers, written by praatio."""

from __future__ import annotations

import tempfile
from pathlib import Path

from praatio import textgrid

from contracts.results import AlignmentResult

__all__ = ["to_textgrid"]


def _intervals(
    items: list[tuple[float, float, str]], duration: float
) -> list[tuple[float, float, str]]:
    """Clamped to the file and made non-overlapping, as Praat requires."""
    cleaned: list[tuple[float, float, str]] = []
    for start, end, label in sorted(items):
        first = max(start, cleaned[-1][1] if cleaned else 0.0)
        last = min(end, duration)
        if last > first:
            cleaned.append((round(first, 4), round(last, 4), label))
    return cleaned


def to_textgrid(result: AlignmentResult) -> bytes:
    # Tiers end with the audio: an interval past it is cut there.
    duration = result.duration or max((w.end for w in result.words), default=0.0)
    grid = textgrid.Textgrid(minTimestamp=0.0, maxTimestamp=duration)
    words = _intervals([(w.start, w.end, w.word) for w in result.words], duration)
    phones = _intervals([(p.start, p.end, p.phone) for p in result.phones], duration)
    grid.addTier(textgrid.IntervalTier("words", words, 0.0, duration))
    grid.addTier(textgrid.IntervalTier("phones", phones, 0.0, duration))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "result.TextGrid"
        grid.save(str(path), format="long_textgrid", includeBlankSpaces=True)
        return path.read_bytes()
