from __future__ import annotations

import itertools
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from aligner_service.domain.confidence import (
    PHONE_CALIBRATION,
    WORD_CALIBRATION,
    Calibration,
    fit_calibration,
    with_confidence,
    word_evidence,
)
from aligner_service.domain.quality import assess
from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import PhoneTiming, WordTiming
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.evaluation import best_threshold, roc_auc
from contracts.results import AlignedWord

EVAL = Path(__file__).resolve().parents[5] / "shared" / "data" / "alignment-eval"


@pytest.mark.parametrize("calibration", [WORD_CALIBRATION, PHONE_CALIBRATION])
def test_the_calibration_maps_evidence_to_0_1_monotonically(calibration: Calibration) -> None:
    evidence = np.concatenate([[-1e6, -700.0], np.linspace(-60, 10, 2001), [1e3, 1e6]])
    confidence = [calibration(float(e)) for e in evidence]
    assert all(0.0 <= c <= 1.0 for c in confidence)
    assert all(b >= a for a, b in itertools.pairwise(confidence))
    assert confidence[0] < 0.01 and confidence[-1] > 0.99
    assert calibration(calibration.midpoint) == pytest.approx(0.5)


def test_a_fitted_calibration_rises_with_the_evidence_even_on_separable_data() -> None:
    right, wrong = [-1.0, -1.5, -2.0, -0.5], [-9.0, -12.0, -8.0]
    fitted = fit_calibration(right + wrong, [True] * 4 + [False] * 3)
    assert fitted.slope > 0 and np.isfinite(fitted.intercept)
    assert fitted(-1.0) > 0.5 > fitted(-10.0)


def test_a_word_weighs_its_phones_equally_and_falls_back_to_its_own_score() -> None:
    assert word_evidence(-3.0, [-1.0, -9.0]) == pytest.approx(-5.0)
    assert word_evidence(-3.0, []) == -3.0


def test_words_and_phones_get_a_confidence_where_there_is_evidence() -> None:
    words = [WordTiming(0.0, 0.3, evidence=-1.0), WordTiming(0.3, 0.6), WordTiming(0.6, 0.9)]
    phones = [
        PhoneTiming("AH", 0.0, 0.1, 0, evidence=-0.5),
        PhoneTiming("B", 0.1, 0.3, 0, evidence=-20.0),
        PhoneTiming("K", 0.6, 0.9, 2),
    ]
    scored, scored_phones = with_confidence(words, phones)
    assert scored[0].evidence == pytest.approx(-10.25)  # its phones, weighted equally
    assert scored[0].confidence == pytest.approx(WORD_CALIBRATION(-10.25), abs=1e-4)
    assert scored[1].confidence is None and scored[2].confidence is None  # no evidence
    assert [p.confidence is not None for p in scored_phones] == [True, True, False]
    assert (scored_phones[0].confidence or 0) > (scored_phones[1].confidence or 1)


def test_separation_measures() -> None:
    assert roc_auc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert roc_auc([1.0, 2.0], [1.0, 2.0]) == 0.5
    threshold, caught, false_alarms = best_threshold([3.0, 4.0, 1.5], [1.0, 2.0])
    assert 1.0 < threshold <= 3.0 and caught == 1.0 and false_alarms <= 1 / 3


def test_low_quality_when_many_words_have_a_low_confidence() -> None:
    def words(confidences: Sequence[float | None]) -> list[AlignedWord]:
        return [
            AlignedWord(word="w", start=i * 0.3, end=i * 0.3 + 0.3, confidence=c)
            for i, c in enumerate(confidences)
        ]

    sure = assess(words([0.9] * 9 + [0.2]), 10)
    assert not sure.low_quality and sure.low_confidence_words == [9]
    unsure = assess(words([0.9] * 7 + [0.2, 0.1, 0.3]), 10)
    assert unsure.low_quality and unsure.low_confidence_words == [7, 8, 9]
    assert any("low confidence" in note for note in unsure.notes)
    assert not assess(words([None] * 10), 10).low_quality  # engines without a confidence
    # A wholly wrong transcript: few words very low, but the typical word is doubtful.
    mismatched = assess(words([0.7, 0.75, 0.6, 0.9, 0.72, 0.95, 0.4, 0.78, 0.85, 0.66]), 10)
    assert mismatched.low_quality and mismatched.low_confidence_words == [6]
    assert any("median confidence 0.73" in note for note in mismatched.notes)


@pytest.mark.skipif(not EVAL.exists(), reason="the shared evaluation set is not beside the repo")
def test_words_of_a_wrong_transcript_get_a_lower_confidence() -> None:
    engine = PocketSphinxEngine()
    base = EVAL / "timit" / "dr1-fvmh0_sa1"  # she had your dark suit in greasy wash water ...
    with wave.open(str(base.with_suffix(".wav"))) as source:
        pcm = source.readframes(source.getnframes())
    right = [t.key for t in tokenize(base.with_suffix(".txt").read_text())]
    wrong = list(right)
    replaced = {1: "pine", 6: "morning", 8: "window"}  # had, greasy, water: similar lengths
    for i, word in replaced.items():
        assert wrong[i] != word
        wrong[i] = word
    said = engine.align(pcm, right, "en")
    misheard = engine.align(pcm, wrong, "en")
    for i in replaced:
        before, after = said.words[i].confidence, misheard.words[i].confidence
        assert before is not None and after is not None
        assert after < before - 0.2, (right[i], before, wrong[i], after)
    assert np.mean([misheard.words[i].confidence or 0 for i in replaced]) < 0.5
    assert all(0 <= (p.confidence or 0) <= 1 for p in said.phones + misheard.phones)
