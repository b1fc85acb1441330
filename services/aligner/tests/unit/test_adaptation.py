"""Speaker adaptation (MLLR of the means): a transform is estimated and applied."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from aligner_service.domain.adaptation import (
    AdaptationStatistics,
    MeanTransform,
    estimate_mean_transform,
)
from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import WordTiming
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.engines.sphinx_model import default_model
from aligner_service.evaluation import joined_recording


def _exact_statistics(
    means: np.ndarray, truth: MeanTransform, occupancy: np.ndarray
) -> AdaptationStatistics:
    """Frames that sit exactly on the transformed means, n_g of them per Gaussian."""
    return AdaptationStatistics(occupancy, occupancy[..., None] * truth.apply(means))


def test_a_known_transform_is_recovered_from_frames_that_follow_it() -> None:
    rng = np.random.default_rng(3)
    means = rng.normal(size=(3, 2, 8, 4))  # codebooks, streams, densities, width
    precisions = rng.uniform(0.5, 2.0, size=means.shape)
    truth = MeanTransform(
        np.eye(4) * 1.2 + rng.normal(scale=0.05, size=(2, 4, 4)), rng.normal(size=(2, 4))
    )
    occupancy = rng.uniform(5, 20, size=means.shape[:3])
    found = estimate_mean_transform(
        _exact_statistics(means, truth, occupancy), means, precisions, prior_frames=0.0
    )
    np.testing.assert_allclose(found.matrices, truth.matrices, atol=1e-5)
    np.testing.assert_allclose(found.biases, truth.biases, atol=1e-5)
    np.testing.assert_allclose(found.apply(means), truth.apply(means), atol=1e-5)


def test_the_prior_keeps_little_evidence_near_the_identity() -> None:
    rng = np.random.default_rng(4)
    means = rng.normal(size=(2, 1, 8, 3))
    precisions = np.ones_like(means)
    truth = MeanTransform(np.eye(3)[None] * 2.0, np.full((1, 3), 1.0))
    little = _exact_statistics(means, truth, np.full(means.shape[:3], 0.1))  # 1.6 frames
    plenty = _exact_statistics(means, truth, np.full(means.shape[:3], 1000.0))
    near = estimate_mean_transform(little, means, precisions, prior_frames=300.0)
    far = estimate_mean_transform(plenty, means, precisions, prior_frames=300.0)
    identity = MeanTransform.identity(1, 3)
    full_move = np.abs(truth.apply(means) - means).max()
    assert np.abs(near.apply(means) - means).max() < 0.05 * full_move
    assert np.abs(far.apply(means) - truth.apply(means)).max() < 0.05 * full_move
    assert not np.allclose(far.matrices, identity.matrices)


def test_diagonal_transform_fits_only_scale_and_bias() -> None:
    rng = np.random.default_rng(5)
    means = rng.normal(size=(2, 1, 8, 3))
    precisions = np.ones_like(means)
    truth = MeanTransform(np.diag([1.5, 0.8, 1.1])[None], np.array([[0.3, -0.2, 0.1]]))
    stats = _exact_statistics(means, truth, np.full(means.shape[:3], 50.0))
    found = estimate_mean_transform(stats, means, precisions, prior_frames=0.0, diagonal=True)
    np.testing.assert_allclose(found.matrices, truth.matrices, atol=1e-5)
    np.testing.assert_allclose(found.biases, truth.biases, atol=1e-5)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_shipped_model_adapted_to_shifted_speech_scores_it_higher() -> None:
    """Frames drawn from the real model's senones, then shifted as a different speaker's
    would be: the statistics of the frames' own senones give a transform under which the
    same frames are more likely, and the adapted model's means moved the right way."""
    model = default_model()
    rng = np.random.default_rng(6)
    n_streams, width = model.means.shape[1], model.means.shape[3]
    senones = rng.integers(0, model.mdef.n_senones, size=600)
    frames = np.empty((len(senones), n_streams * width))
    weights = np.exp(model.mixture_weights)  # [stream, density, senone]
    for t, senone in enumerate(senones):
        codebook = model.mdef.senone_codebook[senone]
        for f in range(n_streams):
            p = weights[f, :, senone] / weights[f, :, senone].sum()
            k = rng.choice(len(p), p=p)
            sd = 1.0 / np.sqrt(model.precisions[codebook, f, k])
            frames[t, f * width : (f + 1) * width] = model.means[codebook, f, k] + sd * rng.normal(
                size=width
            )
    shift = np.zeros(n_streams * width)
    shift[:width] = 3.0  # static cepstra offset: another microphone or vocal tract
    shifted = frames + shift
    statistics = model.adaptation_statistics(shifted, senones)
    assert statistics.frames == pytest.approx(len(senones))
    adapted = model.adapted(estimate_mean_transform(statistics, model.means, model.precisions))
    unique = sorted(set(senones.tolist()))
    column = {s: i for i, s in enumerate(unique)}

    def log_likelihood(m: type(model)) -> float:  # type: ignore[valid-type]
        scores = m.senone_scores(unique, shifted)
        return float(sum(scores[t, column[s]] for t, s in enumerate(senones.tolist())))

    assert log_likelihood(adapted) > log_likelihood(model) + len(senones) * 0.5
    moved = (adapted.means - model.means)[:, 0].mean(axis=(0, 1))
    assert np.all(moved > 1.0)  # every static dimension's means moved towards the shift
    # The deltas were not shifted: on average their means stay (fitting noise aside).
    unshifted = np.abs((adapted.means - model.means)[:, 1:].mean(axis=(0, 2)))
    assert unshifted.mean() < 0.25 * moved.mean()


TIMIT = Path(__file__).resolve().parents[5] / "shared" / "data" / "alignment-eval" / "timit"


@pytest.mark.skipif(not TIMIT.exists(), reason="the shared evaluation set is not beside the repo")
def test_a_long_recording_is_aligned_again_by_a_model_adapted_to_its_speaker() -> None:
    pcm, text, reference = joined_recording(
        [TIMIT], None, random.Random(2), pattern="dr1-fvmh0_s[ai]*.wav"
    )
    keys = [t.key for t in tokenize(text)]
    edges = [(start, end) for _, start, end in reference]
    plain_engine = PocketSphinxEngine()
    adapting = PocketSphinxEngine(adapt_min_seconds=5)
    for engine in (plain_engine, adapting):
        engine.learn(keys)
    known = [k for k in keys if plain_engine.knows(k)]
    assert len(known) == len(edges)
    plain = plain_engine.align(pcm, known)
    adapted = adapting.align(pcm, known)
    assert adapting.last_statistics is not None and adapting.last_statistics.frames > 500
    assert len(adapted.words) == len(plain.words) == len(edges)
    moved = [abs(a.start - p.start) for a, p in zip(adapted.words, plain.words, strict=True)]
    assert max(moved) > 0.0005  # the second pass is another model's: some edges moved

    def error(words: list[WordTiming]) -> float:
        return float(
            np.mean(
                [abs(w.start - s) + abs(w.end - e) for w, (s, e) in zip(words, edges, strict=True)]
            )
            / 2
        )

    assert error(adapted.words) <= error(plain.words) + 0.001
    # Short recordings are aligned once, as before.
    short = PocketSphinxEngine(adapt_min_seconds=60)
    short.learn(keys)
    assert short.align(pcm, known).words == plain.words
