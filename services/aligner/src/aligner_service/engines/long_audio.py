"""Files longer than one search can hold (an hour of speech) aligned in bounded memory.

A coarse pass walks the file in short windows: synthetic speech of the words that may lie
ahead is warped onto the window (open end), and the file is cut at the longest real pause
between two located words in the window's early part, where the warp is sure of itself.
Each piece between cuts is then aligned exactly by the job's engine, and the pieces' timings
are joined. Only one window of audio is in memory at a time.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from aligner_service.engines.base import (
    Engine,
    EngineFailed,
    EngineOutput,
    EngineUnavailable,
    PrefixAligner,
    WordTiming,
    supports,
)
from aligner_service.engines.tts_dtw_engine import TtsDtwEngine

__all__ = ["LongAudioAligner", "PcmBytes", "WavFile"]

SAMPLE_RATE = 16_000
BYTES_PER_SECOND = 2 * SAMPLE_RATE
ONE_PIECE_SECONDS = 60.0  # at most this long, a file is aligned in one search
WINDOW_SECONDS = 30.0  # the coarse pass's view
KEEP_FROM, KEEP_TO = 0.3, 0.6  # where in the window a cut may fall (the warp is sure there)
LOOKAHEAD = 1.6  # words synthesised per window: this times the file's mean rate, and more
PACE_SAMPLE_WORDS = 200
PREFIX_MARGIN = 4  # words either side of the coarse count the exact search may choose from
ENERGY_FRAME = 0.01
PAUSE_SEARCH = 0.25  # seconds around a located word boundary searched for a pause


class AudioSource(Protocol):
    @property
    def duration(self) -> float: ...

    def read(self, start: float, end: float) -> bytes:
        """16 kHz mono s16 PCM between two times in seconds."""


@dataclass(frozen=True)
class PcmBytes:
    pcm: bytes

    @property
    def duration(self) -> float:
        return len(self.pcm) / BYTES_PER_SECOND

    def read(self, start: float, end: float) -> bytes:
        return self.pcm[_offset(start) : _offset(end)]


class WavFile:
    """A canonical WAV on disk, read a window at a time."""

    def __init__(self, path: Path) -> None:
        self._path = path
        with wave.open(str(path), "rb") as wav:
            if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (SAMPLE_RATE, 1, 2):
                raise EngineFailed("the stored audio is not 16 kHz mono 16-bit PCM")
            self._frames = wav.getnframes()

    @property
    def duration(self) -> float:
        return self._frames / SAMPLE_RATE

    def read(self, start: float, end: float) -> bytes:
        first = max(0, min(self._frames, round(start * SAMPLE_RATE)))
        last = max(first, min(self._frames, round(end * SAMPLE_RATE)))
        with wave.open(str(self._path), "rb") as wav:
            wav.setpos(first)
            return wav.readframes(last - first)


def _offset(seconds: float) -> int:
    return 2 * round(seconds * SAMPLE_RATE)


class LongAudioAligner:
    def __init__(self, locator: Callable[[], TtsDtwEngine]) -> None:
        self._get_locator = locator  # loaded when the first long file comes

    def align(
        self,
        engine: Engine,
        source: AudioSource,
        words: list[str],
        language: str,
        progress: Callable[[float], None] = lambda share: None,
    ) -> EngineOutput:
        duration = source.duration
        if duration <= ONE_PIECE_SECONDS:
            return engine.align(source.read(0, duration), words, language)
        locator, voice = self._locator(language)
        rate = len(words) / duration
        sample = words[:PACE_SAMPLE_WORDS]  # synthesising an hour at once would not fit
        speed = locator.pace(sample, voice, len(sample) / rate)
        joined = EngineOutput(words=[])
        start, first = 0.0, 0
        while duration - start > WINDOW_SECONDS and first < len(words):
            window = source.read(start, start + WINDOW_SECONDS)
            ahead = words[first : first + math.ceil(rate * WINDOW_SECONDS * LOOKAHEAD) + 10]
            located = locator.locate(window, ahead, voice, speed)
            cut, count = _choose_cut(window, located)
            if count:
                piece = Piece(start, window[: _offset(cut)], first)
                aligned = self._align_piece(engine, piece, words, count, language, locator, voice)
                joined = _join(joined, aligned, piece)
                first = len(joined.words)
            start += cut
            progress(start / duration)
        if first < len(words):
            piece = Piece(start, source.read(start, duration), first)
            rest = len(words) - first
            aligned = self._align_piece(engine, piece, words, rest, language, locator, voice)
            joined = _join(joined, aligned, piece)
        progress(1.0)
        return joined

    def _locator(self, language: str) -> tuple[TtsDtwEngine, str]:
        """The coarse pass and its espeak-ng voice for the job's language."""
        try:
            locator = self._get_locator()
        except EngineUnavailable as exc:
            raise EngineFailed(
                f"files over {ONE_PIECE_SECONDS:.0f} s cannot be cut: {exc}"
            ) from exc
        voice = "en-us" if language.lower() == "en" else language
        if not supports(locator, voice):
            raise EngineFailed(
                f"files over {ONE_PIECE_SECONDS:.0f} s in '{language}' cannot be cut: "
                "espeak-ng has no voice for that language"
            )
        return locator, voice

    def _align_piece(
        self,
        engine: Engine,
        piece: Piece,
        words: list[str],
        count: int,
        language: str,
        locator: TtsDtwEngine,
        voice: str,
    ) -> EngineOutput:
        """The piece's words; where the engine can, it decides how many of them it holds."""
        try:
            if isinstance(engine, PrefixAligner) and piece.first_word + count < len(words):
                margin = PREFIX_MARGIN + count // 8
                ahead = words[piece.first_word : piece.first_word + count + margin]
                return engine.align_prefix(piece.pcm, ahead, language, count - margin)
            mine = words[piece.first_word : piece.first_word + count]
            return engine.align(piece.pcm, mine, language)
        except EngineFailed as exc:
            # One unalignable stretch (noise, music, words not read) must not sink an hour:
            # its words keep the coarse pass's places, and the result says so.
            located = locator.align(
                piece.pcm, words[piece.first_word : piece.first_word + count], voice
            )
            located.coarse_words = len(located.words)
            located.notes.append(
                f"words {piece.first_word + 1}-{piece.first_word + count} "
                f"({_clock(piece.start)}-{_clock(piece.start + len(piece.pcm) / BYTES_PER_SECOND)})"
                f" were placed by the coarse pass only: {exc}"
            )
            return located


@dataclass(frozen=True)
class Piece:
    start: float  # seconds into the file
    pcm: bytes
    first_word: int


def _join(joined: EngineOutput, output: EngineOutput, piece: Piece) -> EngineOutput:
    """The timings so far and a piece's, moved to the file's time."""
    offset = piece.start
    return EngineOutput(
        words=joined.words
        + [replace(w, start=w.start + offset, end=w.end + offset) for w in output.words],
        phones=joined.phones
        + [
            replace(
                p,
                start=p.start + offset,
                end=p.end + offset,
                word_index=None if p.word_index is None else p.word_index + piece.first_word,
            )
            for p in output.phones
        ],
        notes=joined.notes + output.notes,
        coarse_words=joined.coarse_words + output.coarse_words,
    )


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


def _choose_cut(pcm: bytes, located: list[WordTiming]) -> tuple[float, int]:
    """Where to end the piece (seconds into the window) and how many words it holds:
    the longest pause at a word boundary in the window's sure part."""
    window = len(pcm) / BYTES_PER_SECOND
    silent = _silent_frames(pcm)
    best: tuple[float, float, int] | None = None  # (pause length, cut time, words before)
    for k in range(1, len(located)):
        boundary = (located[k - 1].end + located[k].start) / 2
        if not KEEP_FROM * window <= boundary <= KEEP_TO * window:
            continue
        pause, middle = _pause_near(silent, boundary)
        if best is None or pause > best[0]:
            best = (pause, middle, k)
    if best is not None:
        return best[1], best[2]
    # No boundary in the sure part: a long stretch without words, or one very long word.
    before = [k for k, w in enumerate(located) if w.end <= KEEP_TO * window]
    if not before:
        return KEEP_FROM * window, 0
    return (located[before[-1]].end + KEEP_TO * window) / 2, before[-1] + 1


def _silent_frames(pcm: bytes) -> np.ndarray:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    hop = int(ENERGY_FRAME * SAMPLE_RATE)
    frames = len(samples) // hop
    energy = np.sqrt((samples[: frames * hop].reshape(frames, hop) ** 2).mean(axis=1) + 1.0)
    level = 20 * np.log10(energy)
    # Quiet relative to this window's speech: 30 dB under its loud frames, or near its floor.
    threshold = min(np.percentile(level, 90) - 30, np.percentile(level, 5) + 10)
    silent: np.ndarray = level < threshold
    return silent


def _pause_near(silent: np.ndarray, boundary: float) -> tuple[float, float]:
    """The longest silent run touching boundary ± PAUSE_SEARCH: its length and middle."""
    lo = max(0, int((boundary - PAUSE_SEARCH) / ENERGY_FRAME))
    hi = min(len(silent), int((boundary + PAUSE_SEARCH) / ENERGY_FRAME) + 1)
    best = (0.0, boundary)
    i = lo
    while i < hi:
        if not silent[i]:
            i += 1
            continue
        j = i
        while j < len(silent) and silent[j]:
            j += 1
        k = i
        while k > 0 and silent[k - 1]:
            k -= 1
        length = (j - k) * ENERGY_FRAME
        if length > best[0]:
            best = (length, (k + j) / 2 * ENERGY_FRAME)
        i = j
    return best
