"""Every language espeak-ng speaks: synthesise the transcript, then find where its words
fall in the real recording by dynamic time warping of MFCC features (the idea of aeneas).

The words are synthesised in one call with a pause between each, so that the synthetic
word boundaries are known; the pauses are then taken out again so the synthetic rhythm
stays close to speech. Words out, no phones.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from xml.sax.saxutils import escape

import numpy as np
from dtaidistance import dtw, dtw_ndim
from python_speech_features import mfcc

from aligner_service.engines.base import (
    EngineFailed,
    EngineOutput,
    EngineUnavailable,
    WordTiming,
    check_length,
)

__all__ = ["TtsDtwEngine"]

SAMPLE_RATE = 16_000
FRAME_SECONDS = 0.01
PAUSE_MS = 300
GAP_SECONDS = 0.05
SILENT_LEVEL = 50  # synthetic silence is (nearly) digital zero
BAND_SECONDS = 5.0  # DTW looks at most this far off the diagonal (memory stays bounded)
LOCATE_FRAME_SECONDS = 0.02  # the coarse pass that cuts long files
DEFAULT_SPEED = 160
TIMEOUT_SECONDS = 300


class TtsDtwEngine:
    name = "tts-dtw"
    outputs_phones = False

    def __init__(self, binary: str = "espeak-ng") -> None:
        found = shutil.which(binary)
        if found is None:
            raise EngineUnavailable("espeak-ng is not installed on this worker")
        self._binary = found
        listed = subprocess.run(  # noqa: S603
            [found, "--voices"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.splitlines()[1:]
        self.languages: tuple[str, ...] = tuple(
            sorted({line.split()[1].lower() for line in listed if len(line.split()) > 1})
        )

    def knows(self, word: str) -> bool:
        return True  # espeak-ng reads any word by its rules

    def learn(self, words: list[str]) -> list[str]:
        return []

    def align(self, pcm16k: bytes, words: list[str], language: str) -> EngineOutput:
        check_length(pcm16k)
        duration = len(pcm16k) / 2 / SAMPLE_RATE
        synthetic, rate, spans = self._synthesise(words, language, speed=DEFAULT_SPEED)
        if not 0.8 < _spoken_seconds(spans) / duration < 1.25:
            # Match the speaker's pace, so that the warping path stays near the diagonal.
            speed = _matching_speed(spans, duration)
            synthetic, rate, spans = self._synthesise(words, language, speed=speed)
        return EngineOutput(words=self._warp(pcm16k, synthetic, rate, spans, FRAME_SECONDS))

    def pace(self, words: list[str], language: str, seconds: float) -> int:
        """The espeak-ng speed (words per minute) at which these words last about so long."""
        _, _, spans = self._synthesise(words, language, speed=DEFAULT_SPEED)
        return _matching_speed(spans, seconds)

    def locate(
        self, pcm16k: bytes, words: list[str], language: str, speed: int
    ) -> list[WordTiming]:
        """Where the words fall in audio that may end before the words do (open end):
        the coarse pass that long files are cut by. Returns timings for the words that fit."""
        synthetic, rate, spans = self._synthesise(words, language, speed=speed)
        return self._warp(pcm16k, synthetic, rate, spans, LOCATE_FRAME_SECONDS, open_end=True)

    def _warp(
        self,
        pcm16k: bytes,
        synthetic: np.ndarray,
        rate: int,
        spans: list[tuple[float, float]],
        step: float,
        open_end: bool = False,
    ) -> list[WordTiming]:
        real = np.frombuffer(pcm16k, dtype="<i2").astype(np.float64)
        real_features = _features(real, SAMPLE_RATE, step)
        synthetic_features = _features(synthetic, rate, step)
        if open_end:
            # Full cost matrix (the caller keeps windows short), then the cheapest way to
            # reach the audio's last frame from any synthetic frame, per step taken.
            _, costs = dtw_ndim.warping_paths(real_features, synthetic_features, use_c=True)
            rows, cols = costs.shape
            per_step = costs[-1, 1:] ** 2 / (rows - 1 + np.arange(1, cols))
            end = int(np.argmin(per_step)) + 1
            path = dtw.best_path(costs, row=rows - 1, col=end)
            synthetic_frames = end
        else:
            window = abs(len(real_features) - len(synthetic_features)) + int(BAND_SECONDS / step)
            path = dtw_ndim.warping_path(
                real_features, synthetic_features, window=window, use_c=True
            )
            synthetic_frames = len(synthetic_features)
        first, last = _frame_map(path, synthetic_frames)
        timings = []
        for start, end_ in spans:
            if open_end and round(start / step) >= synthetic_frames:
                break  # this word and the rest lie beyond the audio given
            s = first[min(round(start / step), len(first) - 1)] * step
            e = last[min(round(end_ / step), len(last) - 1)] * step
            timings.append(WordTiming(s, max(e, s + step)))
        return timings

    def _synthesise(
        self, words: list[str], language: str, speed: int
    ) -> tuple[np.ndarray, int, list[tuple[float, float]]]:
        """Synthetic speech of the words with short gaps, and each word's span in it."""
        pause = f' <break time="{PAUSE_MS}ms"/> '
        ssml = "<speak>" + pause.join(escape(w) for w in words) + "</speak>"
        done = subprocess.run(  # noqa: S603 (our argv; the text goes in on stdin)
            [self._binary, "-m", "-v", language, "-s", str(speed), "--stdout"],
            input=ssml.encode(), capture_output=True, timeout=TIMEOUT_SECONDS, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not done.stdout:
            raise EngineFailed(f"espeak-ng could not speak this transcript in '{language}'")
        with wave.open(io.BytesIO(done.stdout)) as wav:
            rate = wav.getframerate()
            signal = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
        spans = _word_spans(signal, rate, len(words))
        gap = np.zeros(int(GAP_SECONDS * rate))
        parts, tight_spans, t = [gap], [], GAP_SECONDS
        for start, end in spans:
            piece = signal[int(start * rate) : int(end * rate)]
            tight_spans.append((t, t + len(piece) / rate))
            parts += [piece, gap]
            t += len(piece) / rate + GAP_SECONDS
        return np.concatenate(parts), rate, tight_spans


def _spoken_seconds(spans: list[tuple[float, float]]) -> float:
    """How long the synthetic words last with the short gaps _synthesise leaves."""
    return sum(b - a for a, b in spans) + GAP_SECONDS * (len(spans) + 1)


def _matching_speed(spans: list[tuple[float, float]], seconds: float) -> int:
    """The espeak-ng speed at which words spoken so at DEFAULT_SPEED would last ``seconds``."""
    return int(np.clip(DEFAULT_SPEED * _spoken_seconds(spans) / seconds, 80, 450))


def _word_spans(signal: np.ndarray, rate: int, count: int) -> list[tuple[float, float]]:
    """Where each word sounds: the count-1 longest inner silences separate them."""
    hop = max(1, int(rate * 0.005))
    frames = len(signal) // hop
    loud = np.abs(signal[: frames * hop]).reshape(frames, hop).max(axis=1) > SILENT_LEVEL
    if not loud.any():
        raise EngineFailed("espeak-ng produced silence for this transcript")
    first, last = int(np.argmax(loud)), int(frames - np.argmax(loud[::-1]))
    silences, i = [], first
    while i < last:
        if loud[i]:
            i += 1
            continue
        j = i
        while j < last and not loud[j]:
            j += 1
        silences.append((i, j))
        i = j
    cuts = sorted(sorted(silences, key=lambda r: r[1] - r[0], reverse=True)[: count - 1])
    if len(cuts) != count - 1:
        raise EngineFailed("could not find every word in the synthetic speech")
    bounds = [first, *[edge for cut in cuts for edge in cut], last]
    return [(bounds[2 * k] * hop / rate, bounds[2 * k + 1] * hop / rate) for k in range(count)]


def _features(signal: np.ndarray, rate: int, step: float) -> np.ndarray:
    features = mfcc(
        signal, samplerate=rate, winlen=max(0.025, step), winstep=step, numcep=13, nfilt=26,
        nfft=1024, lowfreq=0, highfreq=8000, appendEnergy=False,
    )  # fmt: skip
    normalised: np.ndarray = (features - features.mean(0)) / (features.std(0) + 1e-9)
    return normalised.astype(np.double)


def _frame_map(path: list[tuple[int, int]], synthetic_frames: int) -> tuple[list[int], list[int]]:
    """For each synthetic frame, the first and last real frame the warping path pairs it with."""
    first = [-1] * synthetic_frames
    last = [-1] * synthetic_frames
    for real, synthetic in path:
        if first[synthetic] < 0:
            first[synthetic] = real
        last[synthetic] = real
    for k in range(1, synthetic_frames):  # frames the path skipped take their neighbour's
        if first[k] < 0:
            first[k], last[k] = first[k - 1], last[k - 1]
    return first, last
