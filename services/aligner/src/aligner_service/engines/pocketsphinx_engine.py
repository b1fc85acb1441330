"""English alignment with CMU PocketSphinx (acoustic model and dictionary ship in the wheel)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pocketsphinx
from pocketsphinx import Decoder

from aligner_service.domain.refine import tighten_pause_edges
from aligner_service.engines.base import (
    EngineFailed,
    EngineOutput,
    PhoneTiming,
    WordTiming,
    check_length,
)
from aligner_service.engines.g2p import EspeakG2P

__all__ = ["PocketSphinxEngine"]

FRAMES_PER_SECOND = 100
FILLERS = frozenset({"<s>", "</s>", "<sil>", "(NULL)", "[NOISE]", "SIL"})
VARIANT = re.compile(r"\(\d+\)$")


class PocketSphinxEngine:
    name = "pocketsphinx"
    languages: tuple[str, ...] = ("en",)
    outputs_phones = True

    def __init__(self, g2p: EspeakG2P | None = None) -> None:
        # Loaded once per worker process and kept warm.
        self._decoder = Decoder(lm=None, loglevel="FATAL")
        dictionary = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
        self._vocabulary = {
            VARIANT.sub("", line.split(" ", 1)[0])
            for line in dictionary.read_text(encoding="utf-8").splitlines()
            if line
        }
        self._lock = threading.Lock()  # one decoder, one utterance at a time
        self._g2p = g2p or EspeakG2P()

    def knows(self, word: str) -> bool:
        return word in self._vocabulary

    def learn(self, words: list[str]) -> list[str]:
        unknown = sorted({w for w in words if w not in self._vocabulary})
        learnt = self._g2p.pronounce(unknown)
        with self._lock:
            for word, phones in learnt.items():
                self._decoder.add_word(word, " ".join(phones), True)
                self._vocabulary.add(word)
        return sorted(learnt)

    def align(self, pcm16k: bytes, words: list[str], language: str = "en") -> EngineOutput:
        if not words:
            raise EngineFailed("there are no words to align")
        check_length(pcm16k)
        with self._lock:
            timings = self._align_words(pcm16k, words)
            phones = self._align_phones(pcm16k, timings)
        timings, phones = tighten_pause_edges(pcm16k, timings, phones)
        return EngineOutput(words=timings, phones=phones)

    def _decode(self, pcm16k: bytes) -> None:
        self._decoder.start_utt()
        self._decoder.process_raw(pcm16k, full_utt=True)
        self._decoder.end_utt()

    def _align_words(self, pcm16k: bytes, words: list[str]) -> list[WordTiming]:
        self._decoder.set_align_text(" ".join(words))
        self._decode(pcm16k)
        segments = self._decoder.seg()
        aligned = [
            WordTiming(
                s.start_frame / FRAMES_PER_SECOND,
                (s.end_frame + 1) / FRAMES_PER_SECOND,
                round(float(s.prob), 4),
            )
            for s in (segments or [])
            if s.word not in FILLERS
        ]
        if len(aligned) != len(words):
            raise EngineFailed("the transcript could not be fitted to the audio")
        return aligned

    def _align_phones(self, pcm16k: bytes, words: list[WordTiming]) -> list[PhoneTiming]:
        try:
            self._decoder.set_alignment()
            self._decode(pcm16k)
            alignment = self._decoder.get_alignment()
        except RuntimeError:
            return []  # words stand without phones rather than fail the file
        phones = []
        # Phones are matched to words by time: iterating nested entries is not memory-safe.
        for entry in alignment.phones():
            if entry.name in FILLERS:
                continue
            start = entry.start / FRAMES_PER_SECOND
            end = (entry.start + entry.duration) / FRAMES_PER_SECOND
            index = next((i for i, w in enumerate(words) if w.start <= start < w.end), None)
            phones.append(PhoneTiming(entry.name, start, end, index))
        return phones
