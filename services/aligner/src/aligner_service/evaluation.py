"""Speech with known word boundaries, for measuring engines where no hand labels exist:
each word spoken alone by espeak-ng (in a voice other than the engines'), at a varying
pace, joined with pauses of varying length. Used by the benchmark and the tests."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import wave

import numpy as np
from scipy.signal import resample_poly

__all__ = ["synthetic_utterance"]

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
