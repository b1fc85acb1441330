"""Speaker adaptation of an acoustic model's Gaussian means (MLLR, Leggetter & Woodland 1995).

A first pass aligns the audio; the frames it gave each state say how this speaker's features
differ from the model's. One affine transform per feature stream, mu' = A mu + b, shared by
every Gaussian, is fitted by maximum likelihood (diagonal covariances: a linear system per
output dimension), pulled towards the identity by a prior worth `prior_frames` frames of
evidence, so that a short recording changes the model little. The statistics add up over
files, so a speaker's folder can share one transform.

Plain numpy on arrays: the model's reader (engines/sphinx_model.py) supplies them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "AdaptationStatistics",
    "MeanTransform",
    "estimate_mean_transform",
]

# What the identity prior weighs, in frames (10 ms each): a 3 s utterance's own frames
# count about as much as the prior; a minute of a speaker outweighs it twenty-fold.
PRIOR_FRAMES = 300.0
MIN_FRAMES = 20.0
RIDGE = 1e-6  # keeps a system from Gaussians that barely differ solvable


@dataclass
class AdaptationStatistics:
    """Per Gaussian [codebook, stream, density]: its occupancy (the summed posteriors of
    the frames it was given) and those frames' posterior-weighted feature sum."""

    occupancy: np.ndarray  # [C, F, K]
    feature_sums: np.ndarray  # [C, F, K, W]

    @classmethod
    def empty(cls, shape: tuple[int, int, int, int]) -> AdaptationStatistics:
        c, f, k, w = shape
        return cls(np.zeros((c, f, k)), np.zeros((c, f, k, w)))

    @property
    def frames(self) -> float:
        """Frames seen (each frame's posteriors sum to one per stream)."""
        return float(self.occupancy[:, 0].sum()) if self.occupancy.size else 0.0

    def add(self, other: AdaptationStatistics) -> AdaptationStatistics:
        return AdaptationStatistics(
            self.occupancy + other.occupancy, self.feature_sums + other.feature_sums
        )


@dataclass(frozen=True)
class MeanTransform:
    """Per stream f: mu' = matrices[f] @ mu + biases[f]."""

    matrices: np.ndarray  # [F, W, W]
    biases: np.ndarray  # [F, W]

    @classmethod
    def identity(cls, streams: int, width: int) -> MeanTransform:
        return cls(np.tile(np.eye(width), (streams, 1, 1)), np.zeros((streams, width)))

    def apply(self, means: np.ndarray) -> np.ndarray:
        """Means [C, F, K, W] transformed."""
        out: np.ndarray = np.einsum("fij,cfkj->cfki", self.matrices, means)
        out += self.biases[None, :, None, :]
        return out


def estimate_mean_transform(
    statistics: AdaptationStatistics,
    means: np.ndarray,
    precisions: np.ndarray,
    prior_frames: float = PRIOR_FRAMES,
    diagonal: bool = False,
) -> MeanTransform:
    """The maximum a posteriori transform of each stream's means.

    For output dimension i of stream f, with extended means xi = [1, mu] and the row
    w_i = [b_i, A_i], the likelihood's gradient gives G_i w_i = k_i where
    G_i = sum_g n_g p_gi xi_g xi_g^T and k_i = sum_g p_gi s_gi xi_g (n: occupancy,
    s: feature sum, p: precision). The prior adds prior_frames / frames times G itself,
    centred on the identity row. `diagonal` fits only A's diagonal and b.
    """
    _, n_streams, _, width = means.shape
    transform = MeanTransform.identity(n_streams, width)
    matrices, biases = transform.matrices.copy(), transform.biases.copy()
    frames = statistics.frames
    for f in range(n_streams):
        occupancy = statistics.occupancy[:, f].reshape(-1)  # [G]
        sums = statistics.feature_sums[:, f].reshape(-1, width)  # [G, W]
        mu = means[:, f].reshape(-1, width)
        precision = precisions[:, f].reshape(-1, width)
        xi = np.concatenate([np.ones((len(mu), 1)), mu], axis=1)  # [G, W + 1]
        outer = xi[:, :, None] * xi[:, None, :]  # [G, W + 1, W + 1]
        for i in range(width):
            free = [0, i + 1] if diagonal else list(range(width + 1))
            x = xi[:, free]
            o = outer[:, free][:, :, free]
            gram = np.einsum("g,gab->ab", occupancy * precision[:, i], o)
            target = x.T @ (precision[:, i] * sums[:, i])
            if frames < MIN_FRAMES:
                continue  # too little speech to move anything: the identity stays
            # The prior: prior_frames more frames like these, lying on their Gaussians'
            # means (the identity's evidence). Shaped like the data's own statistics, it
            # shrinks the fitted row towards the identity by frames / (frames + prior).
            prior_gram = gram * (prior_frames / frames)
            identity_row = np.zeros(len(free))
            identity_row[free.index(i + 1)] = 1.0
            ridge = np.eye(len(free)) * (RIDGE * np.trace(gram) / len(free))
            row = np.linalg.solve(
                gram + prior_gram + ridge, target + (prior_gram + ridge) @ identity_row
            )
            biases[f, i] = row[0]
            if diagonal:
                matrices[f, i, i] = row[1]
            else:
                matrices[f, i, :] = row[1:]
    return MeanTransform(matrices, biases)
