from __future__ import annotations

import random
import shutil

import numpy as np
import pytest

from aligner_service.domain.refine import (
    PhoneStates,
    StateSpan,
    follow_phones,
    place_boundaries,
    snap_to_spectral_change,
    snap_to_voicing,
    spectral_change,
)
from aligner_service.engines.base import PhoneTiming, WordTiming
from aligner_service.engines.landmarks import voicing_transitions
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.engines.sphinx_model import (
    MillisecondScorer,
    SphinxModel,
    default_model,
)
from aligner_service.evaluation import synthetic_utterance

SAMPLE_RATE = 16_000


def _ci_phone(model: SphinxModel, name: str, start: int, end: int) -> PhoneStates:
    """A CI phone's three states spread over [start, end) decoder frames."""
    first = model.phone_index[name] * model.mdef.n_emit_state  # CI senones come first
    cuts = np.linspace(start, end, model.mdef.n_emit_state + 1).round().astype(int)
    states = tuple(StateSpan(first + k, int(cuts[k]), int(cuts[k + 1])) for k in range(3))
    return PhoneStates(name, start, end, states)


def test_the_shipped_model_is_read_whole() -> None:
    model = default_model()
    mdef = model.mdef
    n_codebooks, n_streams, n_density, width = model.means.shape
    assert n_codebooks == len(mdef.phones) == 42  # phonetically tied: a codebook per CI phone
    assert (n_streams, width) == (3, 13)  # 1s_c_d_dd split 0-12/13-25/26-38
    assert model.mixture_weights.shape == (n_streams, n_density, mdef.n_senones)
    assert mdef.n_ci_senones == len(mdef.phones) * mdef.n_emit_state
    assert {"AA", "S", "SIL", "ZH"} <= set(mdef.phones)
    assert (mdef.senone_codebook >= 0).all()  # every senone belongs to a base phone
    ci = mdef.senone_codebook[: mdef.n_ci_senones]
    assert (ci == np.repeat(np.arange(len(mdef.phones)), mdef.n_emit_state)).all()
    # Mixture weights are probabilities: each senone's sum to about one per stream.
    sums = np.exp(model.mixture_weights).sum(axis=1)
    assert np.allclose(sums, 1.0, atol=0.1)


def _noise_then_vowel(boundary_s: float, seconds: float = 1.0) -> bytes:
    rng = np.random.default_rng(7)
    n, cut = int(seconds * SAMPLE_RATE), int(boundary_s * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    # A hiss like /s/ (noise above 4 kHz), then a vowel-like buzz at 120 Hz with
    # formant-like peaks near 700 and 1200 Hz; the hiss some 10 dB below the vowel, as in
    # speech.
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[np.fft.rfftfreq(n, 1 / SAMPLE_RATE) < 4000] = 0
    hiss = np.fft.irfft(spectrum, n)
    vowel = np.zeros(n)
    for k in range(1, 40):
        for formant in (700, 1200):
            vowel += np.cos(2 * np.pi * 120 * k * t) / (1 + ((120 * k - formant) / 150) ** 2)
    signal = np.where(np.arange(n) < cut, 0.3 * hiss / hiss.std(), vowel / vowel.std()) * 3000
    return bytes(signal.astype("<i2").tobytes())


def test_a_known_boundary_is_placed_within_two_ms() -> None:
    model = default_model()
    errors = []
    for boundary_ms in range(501, 560, 5):
        pcm = _noise_then_vowel(boundary_ms / 1000)
        # The decoder's guess: on its 10 ms grid, a frame early or late.
        for guess in (boundary_ms // 10, boundary_ms // 10 + 1):
            phones = [_ci_phone(model, "S", 0, guess), _ci_phone(model, "AA", guess, 100)]
            placed = place_boundaries(phones, MillisecondScorer(model, pcm))
            assert placed[0] == 0 and placed[2] == 1000  # the outer edges stay
            errors.append(abs(placed[1] - boundary_ms))
    # Where the vowel's first pitch period falls moves the split a little either way.
    assert np.mean(errors) <= 2.0 and max(errors) <= 4


class _StepScorer:
    """Left senone wins before `at` ms, right one after."""

    def __init__(self, at: int) -> None:
        self.at = at

    def contrast(
        self, left: list[int], right: list[int], first_ms: int, last_ms: int
    ) -> np.ndarray:
        return np.where(np.arange(first_ms, last_ms) < self.at, 1.0, -1.0)


def _phone(name: str, start: int, end: int, senone: int) -> PhoneStates:
    return PhoneStates(name, start, end, (StateSpan(senone, start, end),))


def test_boundaries_move_to_the_best_split_but_no_further_than_allowed() -> None:
    phones = [_phone("A", 0, 10, 1), _phone("B", 10, 20, 2), _phone("C", 20, 30, 3)]
    assert place_boundaries(phones, _StepScorer(113))[1] == 113
    # 60 ms away: only +-30 ms is searched; the offset moves every decoder time.
    assert place_boundaries(phones, _StepScorer(40))[1] == 70
    assert place_boundaries(phones, _StepScorer(113), offset_ms=8)[0] == 8
    # A phone keeps at least 10 ms: B cannot shrink to nothing.
    placed = place_boundaries([_phone("A", 0, 10, 1), _phone("B", 10, 12, 2)], _StepScorer(125))
    assert placed[1] <= placed[2] - 10


def test_words_follow_their_phones() -> None:
    words = [WordTiming(0.10, 0.30), WordTiming(0.30, 0.50), WordTiming(0.6, 0.7)]
    phones = [
        PhoneTiming("HH", 0.103, 0.2, 0),
        PhoneTiming("AY", 0.2, 0.297, 0),
        PhoneTiming("Y", 0.297, 0.502, 1),
        PhoneTiming("SIL", 0.502, 0.6, None),
    ]
    moved = follow_phones(words, phones)
    assert [(w.start, w.end) for w in moved] == [(0.103, 0.297), (0.297, 0.502), (0.6, 0.7)]


def test_voicing_landmarks_are_found_and_snapped_to() -> None:
    pcm = _noise_then_vowel(0.5)
    onsets, _ = voicing_transitions(pcm)
    assert len(onsets) and abs(onsets[0] - 0.5) <= 0.01  # the buzz starts at 500 ms
    phones = [PhoneTiming("S", 0.3, 0.52, 0), PhoneTiming("AA", 0.52, 0.8, 0)]
    snapped = snap_to_voicing(phones, np.array([0.503]), np.array([]))
    assert snapped[0].end == snapped[1].start == 0.503
    # Not between a sonorant and a voiced obstruent (often devoiced), nor out of reach.
    voiced = [PhoneTiming("Z", 0.3, 0.52, 0), PhoneTiming("AA", 0.52, 0.8, 0)]
    assert snap_to_voicing(voiced, np.array([0.503]), np.array([])) == voiced
    assert snap_to_voicing(phones, np.array([0.45]), np.array([])) == phones


def test_a_nasal_vowel_boundary_moves_to_the_fastest_spectral_change() -> None:
    cepstra = np.zeros((1000, 13))
    cepstra[512:, 0] = 5.0  # the spectrum jumps at 512 ms
    change = spectral_change(cepstra)
    assert int(np.argmax(change)) in range(502, 523)  # flat within +-10 ms of the jump
    phones = [PhoneTiming("M", 0.4, 0.5, 0), PhoneTiming("AA", 0.5, 0.7, 0)]
    peaked = np.zeros(1000)
    peaked[513] = 1.0
    snapped = snap_to_spectral_change(phones, peaked)
    assert snapped[0].end == snapped[1].start == 0.513
    liquid = [PhoneTiming("L", 0.4, 0.5, 0), PhoneTiming("AA", 0.5, 0.7, 0)]
    assert snap_to_spectral_change(liquid, peaked) == liquid  # gradual: left alone


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_the_engine_puts_phones_off_the_10_ms_grid_and_words_follow_them() -> None:
    words = ["she", "had", "a", "dark", "blue", "coat", "in", "the", "winter"]
    pcm, _ = synthetic_utterance(words, "en", random.Random(3), max_pause=0.1)
    output = PocketSphinxEngine().align(pcm, words, "en")
    edges = [round(p.start * 1000) for p in output.phones]
    assert sum(edge % 10 != 0 for edge in edges) > len(edges) / 2  # to the millisecond
    for i, word in enumerate(output.words):
        own = [p for p in output.phones if p.word_index == i]
        # Words follow their phones; beside a pause the energy rule may move them in.
        assert own and own[0].start <= word.start + 1e-9 and word.end <= own[-1].end + 1e-9
        inner = 0 < i < len(output.words) - 1
        if inner and output.words[i - 1].end == word.start:
            assert own[0].start == word.start
