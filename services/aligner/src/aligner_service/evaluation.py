"""Speech with known word boundaries, for the benchmark and the tests: synthetic speech for
languages without hand labels here (each word spoken alone by espeak-ng, in a voice other
than the engines', at a varying pace, joined with pauses of varying length), and long
recordings joined from labelled utterances."""

from __future__ import annotations

import difflib
import io
import json
import random
import shutil
import statistics
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly
from scipy.stats import rankdata

from aligner_service.domain.transcript import tokenize

__all__ = [
    "WITHIN_MS",
    "best_threshold",
    "boundaries",
    "boundary_f1",
    "boundary_hits",
    "byte_slipped",
    "describe",
    "edges",
    "joined_recording",
    "matched_items",
    "reference_key",
    "roc_auc",
    "synthetic_utterance",
]

RATE = 16_000


def synthetic_utterance(
    words: list[str], language: str, rng: random.Random, max_pause: float = 0.25
) -> tuple[bytes, list[tuple[str, float, float]]]:
    """16 kHz PCM of the words, and each word's (word, start, end) in seconds."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed")
    pieces, spans, t = [], [], 0.0
    for word in words:
        spoken = subprocess.run(  # noqa: S603
            [
                espeak,
                "-v",
                f"{language}+f3",
                "-s",
                str(rng.randint(130, 190)),
                "--stdout",
                word,
            ],
            capture_output=True,
            check=True,
        ).stdout
        with wave.open(io.BytesIO(spoken)) as source:
            rate = source.getframerate()
            samples = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
        resampled = resample_poly(samples.astype(np.float64), RATE, rate)
        loud = np.flatnonzero(np.abs(resampled) > 50)
        resampled = resampled[loud[0] : loud[-1] + 1]
        pause = np.zeros(int(RATE * rng.uniform(0.0, max_pause)))
        pieces += [pause, resampled]
        t += len(pause) / RATE
        spans.append((word.lower(), t, t + len(resampled) / RATE))
        t += len(resampled) / RATE
    pieces.append(np.zeros(RATE // 4))
    pcm = np.clip(np.concatenate(pieces), -32768, 32767).astype("<i2").tobytes()
    return pcm, spans


def byte_slipped(pcm: bytes, window: int = 3200) -> bool:
    """PCM that a lost byte has shifted: loud noise that reads as smooth speech one byte on.
    (16 files of the shared TIMIT sample are damaged so; no aligner can use them as is.)"""
    slipped = 0
    for i in range(0, len(pcm) - window, window):
        as_is = np.frombuffer(pcm[i : i + window], "<i2").astype(float)
        shifted = np.frombuffer(pcm[i + 1 : i + window - 1], "<i2").astype(float)
        roughness = [np.abs(np.diff(x)).mean() / max(np.abs(x).mean(), 1) for x in (as_is, shifted)]
        slipped += np.sqrt((as_is**2).mean()) > 8000 and roughness[1] < 0.7 * roughness[0]
    return slipped > 3


def joined_recording(
    folders: list[Path], seconds: float | None, rng: random.Random, pattern: str = "*.wav"
) -> tuple[bytes, str, list[tuple[str, float, float]]]:
    """A long recording made of labelled 16 kHz utterances (undamaged ones, repeated as
    needed; seconds None: each once) with pauses of 0.1-0.8 s between them: its PCM,
    transcript, and reference words (as written in the labels, start, end)."""
    pairs = []
    for folder in folders:
        for path in sorted(folder.glob(pattern)):
            with wave.open(str(path)) as source:
                if (source.getframerate(), source.getnchannels()) != (RATE, 1):
                    continue
                pcm = source.readframes(source.getnframes())
            if not byte_slipped(pcm):
                words = json.loads(path.with_suffix(".words.json").read_text())
                pairs.append((pcm, path.with_suffix(".txt").read_text(encoding="utf-8"), words))
    if not pairs:
        raise ValueError("no usable utterances in " + ", ".join(map(str, folders)))
    pieces: list[bytes] = []
    texts: list[str] = []
    reference: list[tuple[str, float, float]] = []
    t = 0.0
    once = seconds is None
    while once or t < (seconds or 0.0):
        for pcm, text, words in pairs:
            pause = bytes(2 * int(RATE * rng.uniform(0.1, 0.8)))
            t += len(pause) / (2 * RATE)
            reference += [(w["word"], w["start"] + t, w["end"] + t) for w in words]
            pieces += [pause, pcm]
            texts.append(text.strip())
            t += len(pcm) / (2 * RATE)
            if seconds is not None and t >= seconds:
                break
        if once:
            break
    return b"".join(pieces), "\n".join(texts), reference


def reference_key(word: str) -> str:
    """A hand-labelled word as the aligner names it ("" for a label with no word in it), so
    that reference and output compare key for key."""
    tokens = tokenize(word)
    return tokens[0].key if tokens else ""


def boundaries(
    got: list[tuple[str, float, float]], want: list[tuple[str, float, float]]
) -> tuple[list[float], int]:
    """Errors of start and end of every reference item matched (same label, in order)."""
    pairs = matched_items([g[0] for g in got], [w[0] for w in want])
    errors: list[float] = []
    for i, j in pairs:
        g, w = got[i], want[j]
        errors += [abs(g[1] - w[1]), abs(g[2] - w[2])]
    return errors, len(pairs)


def matched_items(got: list[str], want: list[str]) -> list[tuple[int, int]]:
    """(index in got, index in want) of the labels matched in order (difflib's blocks)."""
    matcher = difflib.SequenceMatcher(a=got, b=want, autojunk=False)
    return [
        (block.a + i, block.b + i)
        for block in matcher.get_matching_blocks()
        for i in range(block.size)
    ]


WITHIN_MS = (10, 20, 25, 50, 100)


def boundary_hits(
    got: list[float], want: list[float], tolerance: float = 0.020
) -> tuple[int, int, int]:
    """(hits, boundaries found, reference boundaries) as segmentation papers count them: a
    boundary found is a hit if it lies within ``tolerance`` of a reference boundary not
    already taken (one to one, in time order)."""
    found, reference = sorted(set(got)), sorted(set(want))
    reach = tolerance + 1e-9  # 20 ms is within 20 ms, whatever the floats say
    hits, j = 0, 0
    for t in found:
        while j < len(reference) and reference[j] < t - reach:
            j += 1
        if j < len(reference) and abs(reference[j] - t) <= reach:
            hits += 1
            j += 1
    return hits, len(found), len(reference)


def boundary_f1(hits: int, found: int, reference: int) -> float:
    """F1 of precision (hits over boundaries found) and recall (over the reference's)."""
    if hits == 0:
        return 0.0
    precision, recall = hits / found, hits / reference
    return 2 * precision * recall / (precision + recall)


def edges(items: list[tuple[str, float, float]]) -> list[float]:
    """Every start and end, rounded to the millisecond (a shared boundary counts once)."""
    return sorted({round(t, 3) for _, start, end in items for t in (start, end)})


def describe(errors: list[float], f1: float | None = None) -> str:
    if not errors:
        return "n/a"
    within = [sum(e <= ms / 1000 for e in errors) / len(errors) for ms in WITHIN_MS]
    mean, median = 1000 * statistics.mean(errors), 1000 * statistics.median(errors)
    shares = " / ".join(f"{100 * w:3.0f}%" for w in within)
    thresholds = "/".join(str(ms) for ms in WITHIN_MS)
    line = f"mean {mean:5.1f} ms  median {median:5.1f} ms  <={thresholds} ms {shares}"
    return line if f1 is None else f"{line}  F1@20ms {f1:.3f}"


def roc_auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """P(a positive scores above a negative), ties counting half (the Mann-Whitney form)."""
    if not positive or not negative:
        return float("nan")
    scores = np.concatenate([np.asarray(positive, float), np.asarray(negative, float)])
    ranks = rankdata(scores)  # average ranks for ties
    above = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(above / (len(positive) * len(negative)))


def best_threshold(
    positive: Sequence[float], negative: Sequence[float]
) -> tuple[float, float, float]:
    """The threshold t that best flags negatives as `score < t` (Youden's J: the share of
    negatives flagged minus the share of positives flagged, at its largest), with both shares."""
    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    if not len(pos) or not len(neg):
        return float("nan"), float("nan"), float("nan")
    candidates = np.unique(np.concatenate([pos, neg]))
    # Midway between neighbouring scores, and past either end.
    cuts = np.concatenate(
        [[candidates[0] - 1], (candidates[1:] + candidates[:-1]) / 2, [candidates[-1] + 1]]
    )
    caught = (neg[None, :] < cuts[:, None]).mean(axis=1)
    false_alarms = (pos[None, :] < cuts[:, None]).mean(axis=1)
    best = int(np.argmax(caught - false_alarms))
    return float(cuts[best]), float(caught[best]), float(false_alarms[best])
