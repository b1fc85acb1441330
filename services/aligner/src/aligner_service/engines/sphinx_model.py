"""PocketSphinx's own acoustic model, read from the wheel, and its features at any frame shift.

The decoder scores speech on a 10 ms grid only; to place a boundary to the millisecond the
same model must score frames 1 ms apart. Here the shipped model's files are read directly
(binary model definition, Gaussian codebooks, quantised mixture weights: the formats of
PocketSphinx's bin_mdef.c, s3 gauden files and ptm_mgau.c's sendump), and MFCCs are computed
as its front end does for the model's feat.params (pre-emphasis 0.97, 25.6 ms Hamming
window, 512-point FFT, 25 mel filters 130-6800 Hz, orthonormal DCT, lifter 22, 13 cepstra,
utterance mean removed, 1s_c_d_dd deltas in three streams of 13).
"""

from __future__ import annotations

import copy
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pocketsphinx
from scipy.fft import dct
from threadpoolctl import ThreadpoolController

from aligner_service.domain.adaptation import AdaptationStatistics, MeanTransform

__all__ = [
    "MillisecondScorer",
    "SphinxModel",
    "default_model",
    "mfcc",
    "one_blas_thread",
    "stacked_features",
    "write_mllr",
]

SAMPLE_RATE = 16_000
FRAME_SAMPLES = 410  # -wlen 0.025625
FFT_SIZE = 512
N_FILTERS = 25
N_CEPSTRA = 13
LOWER_HZ, UPPER_HZ = 130.0, 6800.0
LIFTER = 22
PRE_EMPHASIS = 0.97
DECODER_SHIFT = 160  # samples between the decoder's frames (10 ms)
# The decoder dates a boundary by the first sample of the right phone's first window. The
# change itself lies between the centres of the last left window and that first right one,
# half a window minus half a shift later on average (12.8 - 5 ms): decoder times are moved
# by that to compare them with times of window centres.
DECODER_CENTRE_MS = round((FRAME_SAMPLES - DECODER_SHIFT) / 2 / SAMPLE_RATE * 1000)
# Mixture weights are stored as 8-bit -log values in base 1.0001 ** 1024 (ptm_mgau.c).
MIXW_LOG_UNIT = 1024 * np.log(1.0001)
VARIANCE_FLOOR = 1e-4  # the decoder's -varfloor default
FRAMES_PER_BLOCK = 2048


def model_dir() -> Path:
    return Path(pocketsphinx.get_model_path()) / "en-us" / "en-us"


def _read_s3_header(data: bytes) -> int:
    """Offset just after an s3 file's text header and its byte-order word."""
    end = data.index(b"endhdr\n") + len(b"endhdr\n")
    (magic,) = struct.unpack_from("<I", data, end)
    if magic != 0x11223344:
        raise ValueError("unsupported byte order in s3 file")
    return end + 4


def read_gaussians(path: Path) -> np.ndarray:
    """Means or variances as [codebook, stream, density, dimension] (equal-width streams)."""
    data = path.read_bytes()
    offset = _read_s3_header(data)
    n_mgau, n_feat, n_density = struct.unpack_from("<3i", data, offset)
    offset += 12
    widths = struct.unpack_from(f"<{n_feat}i", data, offset)
    offset += 4 * n_feat
    (total,) = struct.unpack_from("<i", data, offset)
    offset += 4
    if len(set(widths)) != 1 or total != n_mgau * n_density * sum(widths):
        raise ValueError(f"unexpected Gaussian file layout in {path.name}")
    values = np.frombuffer(data, dtype="<f4", count=total, offset=offset)
    return values.reshape(n_mgau, n_feat, n_density, widths[0]).astype(np.float64)


def read_sendump(path: Path, n_senones: int) -> np.ndarray:
    """Log mixture weights as [stream, density, senone] (natural log)."""
    data = path.read_bytes()
    offset, n_feat, clusters = 0, 1, 0
    while True:  # length-prefixed header strings, ended by a zero length
        (size,) = struct.unpack_from("<i", data, offset)
        offset += 4
        if size == 0:
            break
        line = data[offset : offset + size].rstrip(b"\0").decode("ascii", "replace")
        offset += size
        key, _, value = line.partition(" ")
        if key == "feature_count":
            n_feat = int(value)
        elif key == "cluster_count":
            clusters = int(value)
    if clusters:
        raise ValueError("clustered (4-bit) mixture weights are not supported")
    rows, columns = struct.unpack_from("<2i", data, offset)
    offset += 8
    if columns != n_senones:
        raise ValueError(f"sendump has {columns} senones, mdef {n_senones}")
    raw = np.frombuffer(data, dtype=np.uint8, count=n_feat * rows * columns, offset=offset)
    weights: np.ndarray = -raw.reshape(n_feat, rows, columns).astype(np.float64) * MIXW_LOG_UNIT
    return weights


@dataclass(frozen=True)
class ModelDefinition:
    phones: tuple[str, ...]  # the CI phones, in the model's order
    n_emit_state: int
    n_ci_senones: int
    n_senones: int
    senone_codebook: np.ndarray  # per senone, the CI phone whose codebook it mixes


def read_mdef(path: Path) -> ModelDefinition:
    """The binary model definition (bin_mdef.c): CI phones and senone -> base phone."""
    data = path.read_bytes()
    if data[:4] != b"BMDF":
        raise ValueError("not a little-endian binary mdef")
    (header_size,) = struct.unpack_from("<i", data, 8)
    offset = 12 + header_size
    (n_ci, n_phone, n_emit, n_ci_sen, n_sen, _tmat, n_sseq, _ctx, n_tree, _sil) = (
        struct.unpack_from("<10i", data, offset)
    )
    offset += 40
    names = []
    for _ in range(n_ci):
        end = data.index(b"\0", offset)
        names.append(data[offset:end].decode("ascii"))
        offset = end + 1
    offset = (offset + 3) & ~3
    offset += 8 * n_tree  # the context tree: not needed, each phone names its base
    phone_table = np.frombuffer(data, dtype=np.uint8, count=12 * n_phone, offset=offset)
    offset += 12 * n_phone
    phone_table = phone_table.reshape(n_phone, 12)
    ssid = phone_table[:, 0:4].copy().view("<i4").ravel()
    base = np.where(np.arange(n_phone) < n_ci, np.arange(n_phone), phone_table[:, 9])
    (sseq_size,) = struct.unpack_from("<i", data, offset)
    offset += 4
    if n_emit == 0 or sseq_size != n_sseq * n_emit:
        raise ValueError("models with mixed state counts are not supported")
    sseq = np.frombuffer(data, dtype="<u2", count=sseq_size, offset=offset).reshape(n_sseq, n_emit)
    codebook = np.full(n_sen, -1, dtype=np.int64)
    for phone in range(n_phone):
        senones = sseq[ssid[phone]]
        unset = codebook[senones] < 0
        codebook[senones[unset]] = base[phone]
    return ModelDefinition(tuple(names), n_emit, n_ci_sen, n_sen, codebook)


class SphinxModel:
    """Senone log-likelihoods (natural log) of feature frames under the shipped model."""

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or model_dir()
        self.mdef = read_mdef(directory / "mdef")
        self.means = read_gaussians(directory / "means")
        variances = np.maximum(read_gaussians(directory / "variances"), VARIANCE_FLOOR)
        self.mixture_weights = read_sendump(directory / "sendump", self.mdef.n_senones)
        n_mgau, n_feat, n_density, width = self.means.shape
        if n_mgau != len(self.mdef.phones):
            raise ValueError("not a phonetically-tied model: one codebook per CI phone")
        if self.mixture_weights.shape[:2] != (n_feat, n_density):
            raise ValueError("mixture weights do not match the codebooks")
        self.stream_width = width
        self.precisions = 1.0 / variances
        self._set_means(self.means)
        self.phone_index = {name: i for i, name in enumerate(self.mdef.phones)}

    def _set_means(self, means: np.ndarray) -> None:
        self.means = means
        # Terms of -0.5 (x - m)^2 / v expanded, so that frames x codewords is one product.
        self._scaled_means = means * self.precisions
        self._constant = -0.5 * (
            np.log(2 * np.pi / self.precisions).sum(axis=-1)
            + (means**2 * self.precisions).sum(axis=-1)
        )

    def adapted(self, transform: MeanTransform) -> SphinxModel:
        """A copy whose means are transformed (the variances and weights are shared)."""
        model = copy.copy(self)
        model._set_means(transform.apply(self.means))
        return model

    def adaptation_statistics(
        self, features: np.ndarray, senones: np.ndarray
    ) -> AdaptationStatistics:
        """Each frame's Gaussian posteriors within the senone it was aligned to, summed per
        Gaussian, with the features they weigh (what an MLLR transform is estimated from)."""
        statistics = AdaptationStatistics.empty(self.means.shape)
        w = self.stream_width
        codebooks = self.mdef.senone_codebook[senones]
        for codebook in np.unique(codebooks):
            rows = np.flatnonzero(codebooks == codebook)
            x = features[rows].astype(np.float64)
            # [frame, stream, density]: the codeword's likelihood times the senone's weight.
            scores = self.codeword_scores(int(codebook), x)
            scores += np.moveaxis(self.mixture_weights[:, :, senones[rows]], 2, 0)
            scores -= scores.max(axis=2, keepdims=True)
            posteriors = np.exp(scores)
            posteriors /= posteriors.sum(axis=2, keepdims=True)
            statistics.occupancy[codebook] += posteriors.sum(axis=0)
            for f in range(self.means.shape[1]):
                statistics.feature_sums[codebook, f] += (
                    posteriors[:, f, :].T @ x[:, f * w : (f + 1) * w]
                )
        return statistics

    def codeword_scores(self, codebook: int, features: np.ndarray) -> np.ndarray:
        """log N(x; codeword) as [frame, stream, density] for one codebook."""
        n_feat = self.means.shape[1]
        w = self.stream_width
        out = np.empty((len(features), n_feat, self.means.shape[2]))
        for f in range(n_feat):
            x = features[:, f * w : (f + 1) * w]
            out[:, f, :] = (
                self._constant[codebook, f]
                + x @ self._scaled_means[codebook, f].T
                - 0.5 * (x**2) @ self.precisions[codebook, f].T
            )
        return out

    def senone_scores(self, senones: list[int], features: np.ndarray) -> np.ndarray:
        """log p(x | senone) as [frame, senone]: per stream a log-sum over the codebook."""
        result = np.empty((len(features), len(senones)))
        cache_by_codebook: dict[int, np.ndarray] = {}
        for j, senone in enumerate(senones):
            codebook = int(self.mdef.senone_codebook[senone])
            if codebook not in cache_by_codebook:
                cache_by_codebook[codebook] = self.codeword_scores(codebook, features)
            scores = cache_by_codebook[codebook] + self.mixture_weights[:, :, senone]
            peak = scores.max(axis=2, keepdims=True)
            per_stream = peak[..., 0] + np.log(np.exp(scores - peak).sum(axis=2))
            result[:, j] = per_stream.sum(axis=1)
        return result


def write_mllr(transform: MeanTransform, path: Path) -> None:
    """The transform in the text format PocketSphinx's -mllr option reads (ps_mllr.c): one
    class, then per stream its width, A row by row, b, and variance scales (all 1)."""
    n_streams, width, _ = transform.matrices.shape
    lines = ["1", str(n_streams)]
    for f in range(n_streams):
        lines.append(str(width))
        lines += [" ".join(f"{v:.7g}" for v in row) for row in transform.matrices[f]]
        lines.append(" ".join(f"{v:.7g}" for v in transform.biases[f]))
        lines.append(" ".join(["1.0"] * width))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread() -> Any:
    """A context with BLAS on one thread: these products are small, and threads made them
    slower here (TIMIT: 0.042 CPU RTF with two threads, 0.014 with one, wall-clock too)."""
    return _blas().limit(limits=1, user_api="blas")


@cache
def default_model() -> SphinxModel:
    """The wheel's model, read once per process (about 4 MB of arrays)."""
    return SphinxModel()


def _mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_inverse(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10 ** (mel / 2595.0) - 1.0)


@cache
def _filterbank() -> np.ndarray:
    """Triangular filters with edges rounded to FFT bins, as fe_build_melfilters does."""
    step = SAMPLE_RATE / FFT_SIZE
    edges_mel = np.linspace(_mel(LOWER_HZ), _mel(UPPER_HZ), N_FILTERS + 2)
    edges = np.floor(_mel_inverse(edges_mel) / step + 0.5) * step
    hz = np.arange(FFT_SIZE // 2 + 1) * step
    bank = np.zeros((N_FILTERS, len(hz)))
    for i in range(N_FILTERS):
        left, centre, right = edges[i], edges[i + 1], edges[i + 2]
        rising = (hz - left) / (centre - left)
        falling = (right - hz) / (right - centre)
        bank[i] = np.clip(np.minimum(rising, falling), 0, None) * 2 / (right - left)
    return bank


@cache
def _window() -> np.ndarray:
    return 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(FRAME_SAMPLES) / (FRAME_SAMPLES - 1))


@cache
def _lifter() -> np.ndarray:
    return 1 + LIFTER / 2 * np.sin(np.arange(N_CEPSTRA) * np.pi / LIFTER)


def mfcc(samples: np.ndarray, shift: int, starts: np.ndarray | None = None) -> np.ndarray:
    """Cepstra (without mean removal) of frames starting every `shift` samples, or at
    the given start samples; a frame past the end is zero-padded as the decoder does."""
    emphasised = np.empty(len(samples) + FRAME_SAMPLES)
    emphasised[: len(samples)] = samples
    emphasised[1 : len(samples)] -= PRE_EMPHASIS * samples[:-1]
    emphasised[len(samples) :] = 0.0
    if starts is None:
        starts = np.arange(0, max(len(samples) - FRAME_SAMPLES, 0) + 1, shift)
    starts = np.clip(starts, 0, len(samples))
    out = np.empty((len(starts), N_CEPSTRA))
    # In blocks: at 1 ms shifts a minute of audio would be 60,000 windowed frames at once.
    for first in range(0, len(starts), FRAMES_PER_BLOCK):
        block = starts[first : first + FRAMES_PER_BLOCK]
        frames = emphasised[block[:, None] + np.arange(FRAME_SAMPLES)] * _window()
        power = np.abs(np.fft.rfft(frames, FFT_SIZE, axis=1)) ** 2
        energies = np.maximum(power @ _filterbank().T, 1e-10)
        cepstra = dct(np.log(energies), type=2, norm="ortho", axis=1)[:, :N_CEPSTRA]
        out[first : first + len(block)] = cepstra * _lifter()
    return out


def stacked_features(cepstra: np.ndarray, spacing: int) -> np.ndarray:
    """1s_c_d_dd on mean-removed cepstra whose rows are 1/`spacing` of a decoder frame
    apart: deltas look 2 decoder frames either way, double deltas 1 and 3 (feat.c).
    Single precision: at 1 ms shifts a long piece has many rows."""
    n, width = cepstra.shape
    pad = 3 * spacing
    padded = np.concatenate(
        [np.repeat(cepstra[:1], pad, 0), cepstra, np.repeat(cepstra[-1:], pad, 0)]
    ).astype(np.float32)

    def at(offset: int) -> np.ndarray:
        start = pad + offset * spacing
        return padded[start : start + n]

    out = np.empty((n, 3 * width), dtype=np.float32)
    out[:, :width] = at(0)
    np.subtract(at(2), at(-2), out=out[:, width : 2 * width])
    np.subtract(at(3), at(-1), out=out[:, 2 * width :])
    out[:, 2 * width :] -= at(1) - at(-3)
    return out


class MillisecondScorer:
    """The model's scores on one recording's features, computed every millisecond; the
    frame of millisecond t is the analysis window centred on t."""

    def __init__(self, model: SphinxModel, pcm16k: bytes) -> None:
        self._model = model
        samples = np.frombuffer(pcm16k, dtype="<i2").astype(np.float64)
        shift = SAMPLE_RATE // 1000
        half = FRAME_SAMPLES // 2
        # Mirrored at the start, so that the first windows are centred on the first samples.
        padded = np.concatenate([samples[half:0:-1], samples])
        cepstra = mfcc(padded, shift, np.arange(0, len(samples), shift))
        if len(cepstra):
            cepstra -= cepstra.mean(axis=0)  # -cmn batch: the utterance's mean
        self.cepstra = cepstra
        self._features = stacked_features(cepstra, DECODER_SHIFT // shift)

    def at_decoder_frames(self, frames: np.ndarray, offset_ms: int) -> np.ndarray:
        """The features of the given 10 ms decoder frames (window centres offset_ms after
        each frame's start)."""
        rows = np.clip(frames * 10 + offset_ms, 0, len(self._features) - 1)
        features: np.ndarray = self._features[rows]
        return features

    def using(self, model: SphinxModel) -> MillisecondScorer:
        """The same features scored by another model (an adapted one)."""
        scorer = copy.copy(self)
        scorer._model = model
        return scorer

    @property
    def model(self) -> SphinxModel:
        return self._model

    def contrast(
        self, left: list[int], right: list[int], first_ms: int, last_ms: int
    ) -> np.ndarray:
        first = min(max(first_ms, 0), len(self._features))
        last = min(max(last_ms, first), len(self._features))
        scores = self._model.senone_scores(left + right, self._features[first:last])
        out = np.zeros(last_ms - first_ms)
        best_left = scores[:, : len(left)].max(axis=1)
        out[first - first_ms : last - first_ms] = best_left - scores[:, len(left) :].max(axis=1)
        return out
