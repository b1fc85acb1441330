"""A word's (and phone's) confidence from the acoustic evidence of the forced alignment.

The evidence is goodness of pronunciation per frame: the forced path's acoustic log-likelihood
over the word's frames, divided by their number, in nats per frame. PocketSphinx scores every
frame relative to the best senone it evaluates there (those of the words near the path), so
this is already a ratio against the best competing sound at each frame and needs no second
search: a word that is not what was said is forced through senones that fit badly while its
right neighbours' fit well, and its score per frame falls far below that of a word that was
said. An explicit phone-loop (allphone) search as the denominator was measured and lost;
scoring every senone (compallsen) would make it absolute, which a wholly wrong transcript
needs, but costs more than the real-time budget (docs/benchmarks.md, bench-confidence).

A logistic maps the evidence to 0-1. The shipped parameters were NOT fitted on TIMIT (its
licence is non-commercial): they were fitted on the licence-clean sets of the evaluation set
(praatio MIT, mfa_tests MIT, ljspeech public domain, librispeech CC BY 4.0) with words of
their transcripts replaced at random, by ``services/aligner/bench/confidence.py --fit``. It is
the probability that a word is right where 15% of words are wrong, as in that data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from aligner_service.engines.base import PhoneTiming, WordTiming

__all__ = [
    "PHONE_CALIBRATION",
    "WORD_CALIBRATION",
    "Calibration",
    "fit_calibration",
    "per_frame",
    "with_confidence",
    "word_evidence",
]

# A segment whose acoustic likelihood underflowed to 0 is as bad as the worst we can see.
MIN_LOG_LIKELIHOOD = -700.0


@dataclass(frozen=True)
class Calibration:
    """confidence = 1 / (1 + exp(-(slope * evidence + intercept))), evidence in nats/frame."""

    slope: float
    intercept: float

    def __call__(self, evidence: float) -> float:
        z = self.slope * evidence + self.intercept
        # Written both ways round so that neither branch overflows.
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    @property
    def midpoint(self) -> float:
        """The evidence at which the confidence is 0.5."""
        return -self.intercept / self.slope


# Fitted on licence-clean data only (praatio, mfa_tests, ljspeech, librispeech; 8 seeded draws
# of 15% replaced words, 2026-11-30), never on TIMIT; re-fit with
# `python services/aligner/bench/confidence.py --fit`. Words: 0.5 at -7.5 nats/frame.
WORD_CALIBRATION = Calibration(slope=0.594, intercept=4.43)
PHONE_CALIBRATION = Calibration(slope=0.386, intercept=3.29)


def per_frame(log_likelihood: float, frames: int) -> float:
    """Nats per frame; a segment of no frames has no evidence and counts as the worst."""
    return max(log_likelihood, MIN_LOG_LIKELIHOOD) / max(frames, 1)


def word_evidence(word_per_frame: float, phones_per_frame: Sequence[float]) -> float:
    """The word's evidence: its phones' per-frame scores averaged with equal weight where the
    phone pass gave them (a wrong word often keeps one long phone that fits and squeezes the
    rest into a few bad frames, which a per-frame average over the word would dilute),
    otherwise the word's own per-frame score."""
    if phones_per_frame:
        return float(np.mean(phones_per_frame))
    return word_per_frame


def fit_calibration(
    evidence: Sequence[float], correct: Sequence[bool], l2: float = 1.0
) -> Calibration:
    """Logistic regression of correct on evidence by Newton's method, with an L2 penalty on
    the slope: replaced and correct words are often perfectly separable in a small set, where
    the unpenalised fit runs off to an infinite slope."""
    x = np.asarray(evidence, dtype=float)
    y = np.asarray(correct, dtype=float)
    scale = float(x.std()) or 1.0
    features = np.column_stack([x / scale, np.ones_like(x)])
    weights = np.zeros(2)
    penalty = np.diag([l2, 1e-6])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(features @ weights)))
        gradient = features.T @ (p - y) + penalty @ weights
        hessian = (features * (p * (1 - p))[:, None]).T @ features + penalty
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-9:
            break
    return Calibration(slope=float(weights[0] / scale), intercept=float(weights[1]))


def with_confidence(
    words: list[WordTiming], phones: list[PhoneTiming]
) -> tuple[list[WordTiming], list[PhoneTiming]]:
    """Each word's and phone's calibrated confidence from the evidence the search left."""
    by_word: list[list[float]] = [[] for _ in words]
    for p in phones:
        if p.word_index is not None and p.evidence is not None:
            by_word[p.word_index].append(p.evidence)
    scored_words = []
    for w, evidence in zip(words, by_word, strict=True):
        if w.evidence is None:
            scored_words.append(w)
            continue
        combined = word_evidence(w.evidence, evidence)
        confidence = round(WORD_CALIBRATION(combined), 4)
        scored_words.append(replace(w, evidence=combined, confidence=confidence))
    scored_phones = [
        p if p.evidence is None else replace(p, confidence=round(PHONE_CALIBRATION(p.evidence), 4))
        for p in phones
    ]
    return scored_words, scored_phones
