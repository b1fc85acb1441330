"""Boundary refinement: phone boundaries to the millisecond by the acoustic model, and word
edges beside pauses by signal energy, where an engine is known to be loose.

PocketSphinx places boundaries between two words well (about 19 ms mean on TIMIT) but lets
a word beside a pause swallow silence: starts come some 70 ms early and ends 135 ms late.
Here such edges move inwards until the signal is louder than the file's own speech level.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from aligner_service.engines.base import PhoneTiming, WordTiming

__all__ = [
    "BoundaryScorer",
    "PhoneStates",
    "StateSpan",
    "place_boundaries",
    "tighten_pause_edges",
]

FRAME_SECONDS = 0.01
SAMPLE_RATE = 16_000
MIN_WORD_SECONDS = 0.03
# Where, between the quiet floor and the loud speech of the file, speech is taken to begin.
THRESHOLD_SHARE = 0.3


def _frame_levels(pcm: bytes) -> np.ndarray:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    size = int(SAMPLE_RATE * FRAME_SECONDS)
    frames = samples[: len(samples) // size * size].reshape(-1, size)
    levels: np.ndarray = 10 * np.log10((frames**2).mean(axis=1) + 1.0)
    return levels


def tighten_pause_edges(
    pcm: bytes, words: list[WordTiming], phones: list[PhoneTiming]
) -> tuple[list[WordTiming], list[PhoneTiming]]:
    if not words:
        return words, phones
    levels = _frame_levels(pcm)
    if len(levels) < 10:
        return words, phones
    floor, loud = np.percentile(levels, 10), np.percentile(levels, 95)
    if loud - floor < 10:  # no clear speech/silence contrast: leave the engine's times
        return words, phones
    threshold = floor + THRESHOLD_SHARE * (loud - floor)
    refined = list(words)
    for i, word in enumerate(words):
        after_pause = i == 0 or words[i - 1].end < word.start - 1e-6
        before_pause = i == len(words) - 1 or words[i + 1].start > word.end + 1e-6
        start, end = word.start, word.end
        # Engines may place an edge a frame past the signal's last whole frame.
        first = min(round(start / FRAME_SECONDS), len(levels))
        last = min(round(end / FRAME_SECONDS), len(levels))
        if after_pause:
            while first < last - 3 and levels[first] < threshold:
                first += 1
            start = first * FRAME_SECONDS
        if before_pause:
            while last - 1 > first + 3 and levels[last - 1] < threshold:
                last -= 1
            end = min(last * FRAME_SECONDS, word.end)
        if end - start >= MIN_WORD_SECONDS:
            refined[i] = replace(word, start=start, end=end)
    return refined, _clip_phones(phones, refined)


def _clip_phones(phones: list[PhoneTiming], words: list[WordTiming]) -> list[PhoneTiming]:
    clipped = []
    for p in phones:
        if p.word_index is None:
            clipped.append(p)
            continue
        w = words[p.word_index]
        start, end = max(p.start, w.start), min(p.end, w.end)
        if end > start:
            clipped.append(replace(p, start=start, end=end))
    return clipped


# --- Boundaries to the millisecond, by the acoustic model itself --------------------------
#
# A frame-synchronous decoder can only put a boundary every 10 ms. Here each boundary
# between two phones is moved, within +-SEARCH_MS and within the two states beside it, to
# the 1 ms position that maximises the likelihood of "left phone up to it, right phone after
# it", scored on features computed every millisecond.

SEARCH_MS = 30
MIN_PHONE_MS = 10  # no phone is squeezed below this by its boundaries moving


@dataclass(frozen=True)
class StateSpan:
    senone: int
    start: int  # decoder frames (10 ms)
    end: int


@dataclass(frozen=True)
class PhoneStates:
    phone: str
    start: int  # decoder frames (10 ms)
    end: int
    states: tuple[StateSpan, ...]


class BoundaryScorer(Protocol):
    def contrast(
        self, left: list[int], right: list[int], first_ms: int, last_ms: int
    ) -> np.ndarray:
        """Per 1 ms frame in [first_ms, last_ms): the best log p(x|s) of the left senones
        less the best of the right ones."""


def place_boundaries(
    phones: list[PhoneStates],
    scorer: BoundaryScorer,
    search_ms: int = SEARCH_MS,
    min_phone_ms: int = MIN_PHONE_MS,
    offset_ms: int = 0,
) -> list[int]:
    """The phones' edges in ms after refinement (n + 1 of them: phone i is [edge i, edge
    i + 1)); the first and the last only move by offset_ms, and so does every edge between
    phones that do not touch."""
    if not phones:
        return []
    # offset_ms: from the decoder's frame times to the scorer's (window starts -> centres).
    edges_ms = [p.start * 10 + offset_ms for p in phones] + [phones[-1].end * 10 + offset_ms]
    placed = list(edges_ms)
    for i in range(1, len(phones)):
        left, right = phones[i - 1], phones[i]
        if left.end != right.start or not left.states or not right.states:
            continue  # not touching: a gap is a pause the engine left out
        t0 = edges_ms[i]
        lo = max(t0 - search_ms, placed[i - 1] + min_phone_ms)
        hi = min(t0 + search_ms, edges_ms[i + 1] - min_phone_ms)
        # Only where the decoder had the left phone's last or the right one's first state:
        # beyond them lie other states (measured: +0.5 ms phone error without this limit).
        lo = max(lo, left.states[-1].start * 10 + offset_ms)
        hi = min(hi, right.states[0].end * 10 + offset_ms)
        if hi <= lo:
            continue
        # Each side scored by the best of its phone's states, not only the two adjacent ones:
        # a short state the decoder placed a frame off is then no trap (TIMIT words -0.2 ms).
        lefts = [state.senone for state in left.states]
        rights = [state.senone for state in right.states]
        contrast = scorer.contrast(lefts, rights, lo, hi)
        # Total log-likelihood of a split at b, up to a constant: the left side's advantage
        # summed over the frames before b.
        gains = np.concatenate([[0.0], np.cumsum(contrast)])
        placed[i] = lo + int(np.argmax(gains))
    return placed


def follow_phones(words: list[WordTiming], phones: list[PhoneTiming]) -> list[WordTiming]:
    """Word edges moved to their first phone's start and last phone's end."""
    spans: dict[int, tuple[float, float]] = {}
    for p in phones:
        if p.word_index is None:
            continue
        start, end = spans.get(p.word_index, (p.start, p.end))
        spans[p.word_index] = (min(start, p.start), max(end, p.end))
    return [
        replace(w, start=spans[i][0], end=spans[i][1]) if i in spans else w
        for i, w in enumerate(words)
    ]


# Between a vowel or sonorant and a voiceless obstruent the boundary is where voicing starts
# or stops, a landmark sharper than the model's crossing. Voiced obstruents are left out:
# they are often devoiced.
SONORANTS = frozenset(
    {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH"}
    | {"UW", "L", "R", "W", "Y", "M", "N", "NG"}
)
VOICELESS = frozenset({"P", "T", "K", "F", "TH", "S", "SH", "HH", "CH"})
# How far a landmark may move the model's boundary: the model's own search reach, not a
# figure fitted on TIMIT (whose licence keeps what is fitted on it out of the product).
LANDMARK_MS = SEARCH_MS
MIN_LANDMARK_PHONE_S = MIN_PHONE_MS / 1000


def snap_to_voicing(
    phones: list[PhoneTiming],
    onsets: np.ndarray,
    offsets: np.ndarray,
    reach_ms: int = LANDMARK_MS,
) -> list[PhoneTiming]:
    """Boundaries between a sonorant and a voiceless obstruent moved to the nearest voicing
    offset (sonorant first) or onset (obstruent first) within reach."""
    snapped = list(phones)
    for i in range(1, len(snapped)):
        left, right = snapped[i - 1], snapped[i]
        if abs(left.end - right.start) > 1e-6:
            continue
        if left.phone in SONORANTS and right.phone in VOICELESS:
            candidates = offsets
        elif left.phone in VOICELESS and right.phone in SONORANTS:
            candidates = onsets
        else:
            continue
        if not len(candidates):
            continue
        nearest = float(candidates[np.argmin(np.abs(candidates - right.start))])
        if (
            abs(nearest - right.start) * 1000 <= reach_ms
            and nearest - left.start >= MIN_LANDMARK_PHONE_S
            and right.end - nearest >= MIN_LANDMARK_PHONE_S
        ):
            snapped[i - 1] = replace(left, end=nearest)
            snapped[i] = replace(right, start=nearest)
    return snapped


# Between a nasal and a vowel the oral closure or release changes the spectrum abruptly;
# the boundary is put where the cepstrum changes fastest. (Liquids and glides change
# gradually: the same rule there made TIMIT phones worse, 14.6 -> 14.9 ms.)
NASALS = frozenset({"M", "N", "NG"})
VOWELS = SONORANTS - NASALS - {"L", "R", "W", "Y"}
CHANGE_HALF_MS = 10  # a decoder frame: the change at t is that between t -+ 10 ms
CHANGE_REACH_MS = SEARCH_MS  # (20 ms did 0.16 ms better on TIMIT: not worth a fitted value)


def spectral_change(cepstra: np.ndarray, half_ms: int = CHANGE_HALF_MS) -> np.ndarray:
    """Per millisecond, the squared distance between the cepstra half_ms either side."""
    padded = np.pad(cepstra, ((half_ms, half_ms), (0, 0)), mode="edge")
    change: np.ndarray = ((padded[2 * half_ms :] - padded[: -2 * half_ms]) ** 2).sum(axis=1)
    return change


def snap_to_spectral_change(
    phones: list[PhoneTiming], change: np.ndarray, reach_ms: int = CHANGE_REACH_MS
) -> list[PhoneTiming]:
    """Nasal-vowel and vowel-nasal boundaries moved to the fastest spectral change within
    reach, each phone keeping MIN_PHONE_MS."""
    snapped = list(phones)
    for i in range(1, len(snapped)):
        left, right = snapped[i - 1], snapped[i]
        if abs(left.end - right.start) > 1e-6:
            continue
        pair = {left.phone, right.phone}
        if not (pair & NASALS and pair & VOWELS):
            continue
        at = round(right.start * 1000)
        lo = max(at - reach_ms, round(left.start * 1000) + MIN_PHONE_MS)
        hi = min(at + reach_ms, round(right.end * 1000) - MIN_PHONE_MS, len(change) - 1)
        if hi < lo:
            continue
        edge = (lo + int(np.argmax(change[lo : hi + 1]))) / 1000
        snapped[i - 1] = replace(left, end=edge)
        snapped[i] = replace(right, start=edge)
    return snapped
