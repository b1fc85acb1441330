# ruff: noqa: RUF002 (IPA letters are meant: they are the data)
"""Words and phones for every language espeak-ng speaks, with the English acoustic model.

espeak-ng says how each word sounds (IPA, phoneme by phoneme); each sound is mapped onto
the nearest phone of the model PocketSphinx ships (domain/ipa.py, by articulatory
features: MAUS's language-independent approach); the words, so pronounced, are aligned
by PocketSphinx's own HMM search (the PocketSphinxEngine this extends), and the phones
that come out are labelled again with the language's own sounds. A word written between
slashes (``/vaːt͡ʃɛk/``, a job with ``transcript_format=ipa``) is read as IPA as it stands.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from dataclasses import replace

import numpy as np
from pocketsphinx import Decoder

from aligner_service.domain.confidence import per_frame, with_confidence
from aligner_service.domain.ipa import espeak_units, is_ipa_word, segment, to_arpabet
from aligner_service.domain.poj import poj_phones
from aligner_service.domain.refine import tighten_pause_edges
from aligner_service.engines.base import (
    EngineFailed,
    EngineOutput,
    EngineUnavailable,
    PhoneTiming,
    WordTiming,
)
from aligner_service.engines.g2p import EspeakG2P
from aligner_service.engines.pocketsphinx_engine import (
    FILLERS,
    SENSCR_SHIFT,
    PocketSphinxEngine,
)

__all__ = ["EspeakPhonesEngine", "Pronunciation", "pronunciation"]

TIMEOUT_SECONDS = 60
# A word whose sounds map onto nothing the model has (a lone glottal stop) still needs a
# phone to be searched for.
FALLBACK = (("ə", ("AH",)),)

# Frames a second of the second searches: a phone lasts 24, then 20 ms at least.
FAST_FRAMES = (125, 150)

SAMPLE_RATE = 16_000
# Quiet noise either side of the audio for the second search: a recording cut right at
# its first or last word (the evaluation's Southern Min ones) leaves the search no frames
# for the silence it begins and ends in, and it fails. Not for the first search: there it
# cost the isolated words 30 ms (the model's silence grows into the quiet edges). Noise,
# not digital zero, which the features cannot take the log of; fixed, so results repeat.
PAD_SECONDS = 0.3
PADDING = (
    np.random.default_rng(0).normal(0, 20, int(PAD_SECONDS * SAMPLE_RATE)).astype("<i2").tobytes()
)

# Languages espeak-ng has no voice for, read from their romanisation by rule instead.
ROMANISED = ("nan",)  # Taiwanese Southern Min: Pe̍h-ōe-jī / Tâi-lô (domain/poj.py)

SAID_KEPT = 100_000  # words whose espeak-ng phonemes are remembered (then forgotten at once)

VOWELS = set("aeiouyàáâäèéêëìíîïòóôöùúûüýæøœ")

Pronunciation = tuple[tuple[str, tuple[str, ...]], ...]  # (IPA phone, its model phones)


def pronunciation(ipa_phones: list[str]) -> Pronunciation:
    """Each IPA phone with the model phones that say it; phones the model cannot say are
    left out (they get no time of their own)."""
    kept: list[tuple[str, tuple[str, ...]]] = []
    for phone in ipa_phones:
        arpabet = to_arpabet(phone)
        if not arpabet:
            continue
        if kept and kept[-1][1] == arpabet and len(arpabet) == 1:
            # Two sounds the model hears as one phone (French "puis": y i, both IY) are one
            # phone of the search: twice its minimum length would not fit fast speech.
            kept[-1] = (kept[-1][0] + phone, arpabet)
            continue
        kept.append((phone, arpabet))
    return tuple(kept) or FALLBACK


def spoken(phones: Pronunciation) -> list[str]:
    return [model for _, arpabet in phones for model in arpabet]


def relabel(phones: list[PhoneTiming], pronunciations: list[Pronunciation]) -> list[PhoneTiming]:
    """The model's phones of each word, merged back into the word's IPA phones (an IPA phone
    said by two model phones spans both). A word whose phones do not add up keeps the model's
    labels rather than get wrong ones."""
    by_word: dict[int | None, list[PhoneTiming]] = {}
    for phone in phones:
        by_word.setdefault(phone.word_index, []).append(phone)
    out: list[PhoneTiming] = []
    for index, found in by_word.items():
        if index is None or index >= len(pronunciations):
            out += found
            continue
        wanted = pronunciations[index]
        if sum(len(arpabet) for _, arpabet in wanted) != len(found):
            out += found
            continue
        k = 0
        for label, arpabet in wanted:
            parts = found[k : k + len(arpabet)]
            k += len(arpabet)
            confidences = [p.confidence for p in parts if p.confidence is not None]
            out.append(
                replace(
                    parts[0],
                    phone=label,
                    end=parts[-1].end,
                    confidence=min(confidences) if confidences else None,
                )
            )
    return sorted(out, key=lambda p: (p.start, p.end))


def unpadded(output: EngineOutput, duration: float) -> EngineOutput:
    """Times back on the unpadded audio (nothing before its start or after its end)."""

    def move(t: float) -> float:
        return min(max(t - PAD_SECONDS, 0.0), duration)

    output.words = [replace(w, start=move(w.start), end=move(w.end)) for w in output.words]
    output.phones = [replace(p, start=move(p.start), end=move(p.end)) for p in output.phones]
    return output


class EspeakPhonesEngine(PocketSphinxEngine):
    name = "espeak-phones"
    languages: tuple[str, ...] = ()
    outputs_phones = True

    def __init__(self, binary: str = "espeak-ng") -> None:
        found = shutil.which(binary)
        if found is None:
            raise EngineUnavailable("espeak-ng is not installed on this worker")
        super().__init__(EspeakG2P(binary=binary))
        self._binary = found
        self._said: dict[tuple[str, str], str] = {}  # (language, word) -> espeak-ng's line
        # Loaded now (a model load, 0.1-0.3 s), not when the first fast file comes.
        self._fast = {r: Decoder(lm=None, loglevel="FATAL", frate=r) for r in FAST_FRAMES}
        listed = subprocess.run(  # noqa: S603 (our own argv)
            [found, "--voices"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.splitlines()[1:]
        voices = {line.split()[1].lower() for line in listed if len(line.split()) > 1}
        self.languages = tuple(sorted(voices | set(ROMANISED)))

    def knows(self, word: str) -> bool:
        return True  # espeak-ng reads any word by its rules; IPA words are read as written

    def learn(self, words: list[str]) -> list[str]:
        return []  # pronunciations depend on the language: made per alignment

    def align_prefix(
        self, pcm16k: bytes, words: list[str], language: str, min_words: int
    ) -> EngineOutput:
        if not words:
            raise EngineFailed("there are no words to align")
        pronunciations = self.pronounce(words, language)
        names = self.define({w: spoken(p) for w, p in zip(words, pronunciations, strict=True)})
        try:
            output = super().align_prefix(pcm16k, [names[w] for w in words], language, min_words)
        except EngineFailed:
            if min_words < len(words):  # a piece of a long file: its caller cuts again
                raise
            output = self._faster(pcm16k, words, names, language)
        output.phones = relabel(output.phones, pronunciations)
        return output

    def _align_words(
        self, pcm16k: bytes, words: list[str], min_words: int
    ) -> tuple[list[WordTiming], Decoder]:
        # No second try with PocketSphinx's wide beams: what the first search loses here is
        # fast speech, which the wide beams did not fit either (0 of 2 French files) and the
        # search at FAST_FRAMES does; it would cost as much again (RTF).
        return self._search(self._decoder, pcm16k, words, min_words), self._decoder

    def _faster(
        self, pcm16k: bytes, words: list[str], names: dict[str, str], language: str
    ) -> EngineOutput:
        """The searches at FAST_FRAMES, slowest first (the less a phone may shrink, the
        nearer the model's own timing), the last on padded audio too."""
        for rate in FAST_FRAMES:
            try:
                return self._fast_search(pcm16k, words, names, rate)
            except EngineFailed:
                continue
        padded = PADDING + pcm16k + PADDING
        output = self._fast_search(padded, words, names, FAST_FRAMES[-1])
        return unpadded(output, len(pcm16k) / 2 / SAMPLE_RATE)

    def _fast_search(
        self, pcm16k: bytes, words: list[str], names: dict[str, str], rate: int
    ) -> EngineOutput:
        """Fast spontaneous speech that the search cannot fit at 100 frames a second (every
        phone lasts three frames at least, and other languages' fast function words are
        shorter): the same model searched at FAST_FRAMES a second, where a phone may last
        20 ms. Its own small copy of the word and phone passes (times in that frame
        rate), with the same confidence and pause edges."""
        with self._lock:
            decoder = self._fast[rate]
            for name in {names[w] for w in words}:
                if not decoder.lookup_word(name):
                    decoder.add_word(name, self._decoder.lookup_word(name), True)
            decoder.set_align_text(" ".join(names[w] for w in words))
            self._decode(pcm16k, decoder)
            segments = [s for s in (decoder.seg() or []) if s.word not in FILLERS]
            if len(segments) != len(words):
                raise EngineFailed("the transcript could not be fitted to the audio")
            # Evidence per frame, as the first search gives it: frames of the same length,
            # only closer together, so the confidence's calibration still applies (roughly).
            timings = [
                WordTiming(
                    s.start_frame / rate,
                    (s.end_frame + 1) / rate,
                    evidence=per_frame(
                        math.log(s.ascore) if s.ascore > 0 else -math.inf,
                        s.end_frame - s.start_frame + 1,
                    ),
                )
                for s in segments
            ]
            phones: list[PhoneTiming] = []
            # Without an alignment, words stand without phones rather than fail the file.
            alignment = self._state_alignment(decoder, pcm16k)
            logmath = decoder.get_logmath()
            for entry in alignment.phones() if alignment is not None else []:
                if entry.name in FILLERS:
                    continue
                start = entry.start / rate
                end = (entry.start + entry.duration) / rate
                index = next((i for i, w in enumerate(timings) if w.start <= start < w.end), None)
                nats = logmath.log_to_ln(entry.score << SENSCR_SHIFT)
                evidence = per_frame(nats, entry.duration)
                phones.append(PhoneTiming(entry.name, start, end, index, evidence=evidence))
        timings, phones = with_confidence(timings, phones)
        timings, phones = tighten_pause_edges(pcm16k, timings, phones)
        return EngineOutput(words=timings, phones=phones)

    def pronounce(
        self, words: list[str], language: str, reduced: bool = False
    ) -> list[Pronunciation]:
        """Each word's IPA phones with their model phones: IPA words as written, the others
        as espeak-ng speaks them in the language (``reduced``: without the vowels it marks
        as droppable, French je, le, de, as fast speech says them)."""
        ipa: dict[str, list[str]] = {w: segment(w[1:-1]) for w in words if is_ipa_word(w)}
        # A lone consonant letter is an elided word (French l', d', c'; Italian l'): said as
        # the letter's sound, not as its name (espeak-ng says "c" as /se/).
        ipa |= {w: segment(w) for w in words if len(w) == 1 and w.isalpha() and w not in VOWELS}
        spelt = sorted({w for w in words if w not in ipa})
        if language.lower().split("-")[0] in ROMANISED:
            ipa |= {w: poj_phones(w) for w in spelt}
        else:
            lines = self._espeak(spelt, language)
            ipa |= {w: espeak_units(line, keep_optional=not reduced) for w, line in lines.items()}
        # A word espeak-ng could not say: its letters, read as IPA, are the best guess left.
        return [pronunciation(ipa.get(w) or segment(w)) for w in words]

    def _espeak(self, words: list[str], language: str) -> dict[str, str]:
        """espeak-ng's phonemes of each word (its --sep=_ line), remembered per language."""
        said = {w: self._said[(language, w)] for w in words if (language, w) in self._said}
        words = [w for w in words if w not in said]
        if not words:
            return said
        if len(self._said) > SAID_KEPT:
            self._said.clear()
        for word, line in self._ask_espeak(words, language).items():
            self._said[(language, word)] = said[word] = line
        return said

    def _ask_espeak(self, words: list[str], language: str) -> dict[str, str]:
        # One call for all: one word a line, each its own sentence, so that words do not
        # run together (liaison) and each line is one word's phonemes.
        done = subprocess.run(  # noqa: S603 (our argv; the words go in on stdin)
            [self._binary, "-q", "--ipa", "--sep=_", "-v", language.lower()],
            input="".join(f"{w}.\n" for w in words),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise EngineFailed(f"espeak-ng could not speak this transcript in '{language}'")
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        if len(lines) != len(words):
            # Some word spoke as more than one sentence: ask word by word.
            return {w: p for w in words for p in [self._espeak_one(w, language)] if p}
        return dict(zip(words, lines, strict=True))

    def _espeak_one(self, word: str, language: str) -> str:
        done = subprocess.run(  # noqa: S603 (our argv; the word goes in on stdin)
            [self._binary, "-q", "--ipa", "--sep=_", "-v", language.lower()],
            input=f"{word}\n",
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        return " ".join(done.stdout.split()) if done.returncode == 0 else ""
