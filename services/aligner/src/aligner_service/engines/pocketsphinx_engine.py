"""English alignment with CMU PocketSphinx (acoustic model and dictionary ship in the wheel)."""

from __future__ import annotations

import copy
import hashlib
import math
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pocketsphinx
from pocketsphinx import Alignment, Decoder

from aligner_service.domain.adaptation import (
    AdaptationStatistics,
    MeanTransform,
    estimate_mean_transform,
)
from aligner_service.domain.confidence import per_frame, with_confidence
from aligner_service.domain.offsets import BoundaryCorrections, correct_boundaries
from aligner_service.domain.refine import (
    PhoneStates,
    StateSpan,
    follow_phones,
    place_boundaries,
    snap_to_spectral_change,
    snap_to_voicing,
    spectral_change,
    tighten_pause_edges,
)
from aligner_service.engines.base import (
    EngineFailed,
    EngineOutput,
    PhoneTiming,
    WordTiming,
    check_length,
)
from aligner_service.engines.g2p import ARPABET, EspeakG2P
from aligner_service.engines.landmarks import voicing_transitions
from aligner_service.engines.sphinx_model import (
    DECODER_CENTRE_MS,
    MillisecondScorer,
    default_model,
    one_blas_thread,
    write_mllr,
)

__all__ = ["PocketSphinxEngine"]

FRAMES_PER_SECOND = 100
FILLERS = frozenset({"<s>", "</s>", "<sil>", "(NULL)", "[NOISE]", "SIL"})
VARIANT = re.compile(r"\(\d+\)$")
KNOWN_PHONES = frozenset(ARPABET)  # the model's phones (ARPAbet, no stress)
WIDE_BEAMS = {"beam": 1e-100, "wbeam": 1e-80, "pbeam": 1e-100, "maxhmmpf": -1}
# The state alignment reports scores in senone units, log-base units shifted right by 10.
SENSCR_SHIFT = 10


class PocketSphinxEngine:
    name = "pocketsphinx"
    languages: tuple[str, ...] = ("en",)
    outputs_phones = True

    def __init__(
        self,
        g2p: EspeakG2P | None = None,
        millisecond_boundaries: bool = True,
        landmarks: bool = True,
        adapt: bool = False,
        corrections: BoundaryCorrections | None = None,
        adapt_min_seconds: float | None = None,
    ) -> None:
        # Loaded once per worker process and kept warm.
        self._decoder = Decoder(lm=None, loglevel="FATAL")
        self._wide: Decoder | None = None  # wide beams, for the searches the first one loses
        dictionary = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
        self._vocabulary = {
            VARIANT.sub("", line.split(" ", 1)[0])
            for line in dictionary.read_text(encoding="utf-8").splitlines()
            if line
        }
        self._base_vocabulary = frozenset(self._vocabulary)
        self._lock = threading.Lock()  # one decoder, one utterance at a time
        self._g2p = g2p or EspeakG2P()
        self._millisecond = millisecond_boundaries
        self._landmarks = landmarks  # voicing onsets/offsets, nasal closures and releases
        self._adapt = adapt  # the boundaries placed by a model adapted to the recording
        # Recordings at least this long are aligned twice, the second time by a model
        # adapted to their speaker (MLLR): on 30 s recordings words 18.4 -> 17.8 ms for
        # 1.8 times the CPU (docs/benchmarks.md). None: never.
        self._adapt_min_seconds = adapt_min_seconds
        # Per boundary class (domain/offsets.py). None ships: the one learnt on the
        # licence-clean sets helped TIMIT (17.8 -> 17.5 ms) but hurt the sets it was
        # learnt on (words +1.1 to +1.7 ms): `make bench-offsets`, docs/benchmarks.md.
        self._corrections = corrections or BoundaryCorrections()
        # Evidence from the speaker's other recordings, added to each recording's own.
        self.speaker_statistics: AdaptationStatistics | None = None
        self.last_statistics: AdaptationStatistics | None = None
        if millisecond_boundaries:
            default_model()  # read the acoustic model now, not in the first job

    def adapted_to(self, statistics: AdaptationStatistics) -> PocketSphinxEngine:
        """An engine for one speaker: its decoder loads the MLLR transform estimated from
        the speaker's first-pass statistics (from other recordings), and its refinement
        adds them to each recording's own."""
        model = default_model()
        engine = self._with_transform(
            estimate_mean_transform(statistics, model.means, model.precisions)
        )
        engine._adapt = True
        engine.speaker_statistics = statistics
        return engine

    def _with_transform(self, transform: MeanTransform) -> PocketSphinxEngine:
        """A copy whose decoder loads the transform (a new decoder: about 0.15 s)."""
        engine = copy.copy(self)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "speaker.mllr"
            write_mllr(transform, path)
            engine._decoder = self._decoder_with_words(mllr=str(path))
        engine._wide = None
        engine._lock = threading.Lock()
        engine._vocabulary = set(self._vocabulary)
        engine._adapt = False
        engine._adapt_min_seconds = None
        engine.speaker_statistics = None
        return engine

    def knows(self, word: str) -> bool:
        return word in self._vocabulary

    def learn(self, words: list[str]) -> list[str]:
        unknown = sorted({w for w in words if w not in self._vocabulary})
        learnt = self._g2p.pronounce(unknown)
        with self._lock:
            for word, phones in learnt.items():
                for decoder in (self._decoder, self._wide):
                    if decoder is not None:
                        decoder.add_word(word, " ".join(phones), True)
                self._vocabulary.add(word)
        return sorted(learnt)

    def define(self, entries: dict[str, list[str]]) -> dict[str, str]:
        """A job's pronunciation of a word becomes a word of its own (its name says the
        word and a digest of the phones), so that no other job aligns with it."""
        names: dict[str, str] = {}
        with self._lock:
            for word, phones in entries.items():
                if not phones or not set(phones) <= KNOWN_PHONES:
                    continue
                spoken = " ".join(phones)
                name = f"{word}__{hashlib.sha1(spoken.encode()).hexdigest()[:10]}"  # noqa: S324
                if name not in self._vocabulary:
                    for decoder in (self._decoder, self._wide):
                        if decoder is not None:
                            decoder.add_word(name, spoken, True)
                    self._vocabulary.add(name)
                names[word] = name
        return names

    def guessed(self, words: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        with self._lock:
            for word in words:
                if word in self._vocabulary and word not in self._base_vocabulary:
                    phones = self._decoder.lookup_word(word)
                    if phones:
                        found[word] = phones.split()
        return found

    def align(self, pcm16k: bytes, words: list[str], language: str = "en") -> EngineOutput:
        return self.align_prefix(pcm16k, words, language, min_words=len(words))

    def align_prefix(
        self, pcm16k: bytes, words: list[str], language: str, min_words: int
    ) -> EngineOutput:
        """Align the first n words, min_words <= n <= len(words), the search choosing n:
        where a piece of a long file ends in its transcript is known only roughly."""
        if not words:
            raise EngineFailed("there are no words to align")
        check_length(pcm16k)
        seconds = len(pcm16k) / 2 / 16_000
        if self._adapt_min_seconds is not None and seconds >= self._adapt_min_seconds:
            return self._align_adapted(pcm16k, words, min_words)
        return self._align_once(pcm16k, words, min_words)

    def _align_adapted(self, pcm16k: bytes, words: list[str], min_words: int) -> EngineOutput:
        """Two passes: the first one's state alignment adapts the model to this recording's
        speaker (MLLR), the second one aligns with it, in the decoder and the refinement."""
        first = self._first_pass(pcm16k, words, min_words)
        if first is None:
            return self._align_once(pcm16k, words, min_words)
        statistics, scorer = first
        self.last_statistics = statistics
        model = scorer.model
        with one_blas_thread():
            transform = estimate_mean_transform(statistics, model.means, model.precisions)
            adapted_scorer = scorer.using(model.adapted(transform))
        return self._with_transform(transform)._align_once(pcm16k, words, min_words, adapted_scorer)

    def _first_pass(
        self, pcm16k: bytes, words: list[str], min_words: int
    ) -> tuple[AdaptationStatistics, MillisecondScorer] | None:
        """The statistics an adaptation is estimated from (no refinement, no landmarks), and
        the recording's 1 ms features for the second pass; None without a state alignment."""
        with self._lock:
            _, decoder = self._align_words(pcm16k, words, min_words)
            alignment = self._state_alignment(decoder, pcm16k)
        segments = _phone_states(alignment) if alignment is not None else []
        if not segments:
            return None
        with one_blas_thread():
            scorer = MillisecondScorer(default_model(), pcm16k)
            return _statistics(scorer, segments), scorer

    def _align_once(
        self,
        pcm16k: bytes,
        words: list[str],
        min_words: int,
        scorer: MillisecondScorer | None = None,
    ) -> EngineOutput:
        with self._lock:
            timings, decoder = self._align_words(pcm16k, words, min_words)
            phones = self._align_phones(decoder, pcm16k, timings, scorer)
        # From the search's own frames, before the edges move: the evidence is theirs.
        timings, phones = with_confidence(timings, phones)
        if self._millisecond:
            timings = follow_phones(timings, phones)
        timings, phones = tighten_pause_edges(pcm16k, timings, phones)
        if self._corrections.shifts_ms and phones:
            phones = correct_boundaries(phones, self._corrections)
            timings = follow_phones(timings, phones)
        return EngineOutput(words=timings, phones=phones)

    def _decode(self, pcm16k: bytes, decoder: Decoder | None = None) -> None:
        decoder = decoder or self._decoder
        decoder.start_utt()
        decoder.process_raw(pcm16k, full_utt=True)
        decoder.end_utt()

    def _state_alignment(self, decoder: Decoder, pcm16k: bytes) -> Alignment | None:
        """The phones and states of the words the decoder's last search aligned; None where
        PocketSphinx cannot align them."""
        try:
            decoder.set_alignment()
            self._decode(pcm16k, decoder)
            return decoder.get_alignment()
        except RuntimeError:
            return None

    def _decoder_with_words(self, **config: Any) -> Decoder:
        """A decoder of its own (a model load, 0.1-0.3 s) that knows every word this engine
        has learnt or been given."""
        decoder = Decoder(lm=None, loglevel="FATAL", **config)
        for word in self._vocabulary - self._base_vocabulary:
            decoder.add_word(word, self._decoder.lookup_word(word), True)
        return decoder

    def _align_words(
        self, pcm16k: bytes, words: list[str], min_words: int
    ) -> tuple[list[WordTiming], Decoder]:
        """Word timings, and the decoder that found them (its search feeds the phone pass)."""
        try:
            return self._search(self._decoder, pcm16k, words, min_words), self._decoder
        except EngineFailed:
            # A pruned search fails outright; a wider one (slower) often finds the path.
            if self._wide is None:
                self._wide = self._decoder_with_words(**WIDE_BEAMS)
            return self._search(self._wide, pcm16k, words, min_words), self._wide

    def _search(
        self, decoder: Decoder, pcm16k: bytes, words: list[str], min_words: int
    ) -> list[WordTiming]:
        if min_words >= len(words):
            decoder.set_align_text(" ".join(words))
        else:
            # The words in a chain of states; the chain may end after any of its last ones.
            chain = [(i, i + 1, 1.0, word) for i, word in enumerate(words)]
            exits = [(i, len(words), 1.0) for i in range(max(1, min_words), len(words))]
            decoder.add_fsg("prefix", decoder.create_fsg("prefix", 0, len(words), chain + exits))
            decoder.activate_search("prefix")
        self._decode(pcm16k, decoder)
        segments = decoder.seg()
        aligned = [
            WordTiming(
                s.start_frame / FRAMES_PER_SECOND,
                (s.end_frame + 1) / FRAMES_PER_SECOND,
                round(float(s.prob), 4),
                # seg().ascore is the likelihood itself: 0.0 where it underflowed.
                evidence=per_frame(
                    math.log(s.ascore) if s.ascore > 0 else -math.inf,
                    s.end_frame - s.start_frame + 1,
                ),
            )
            for s in (segments or [])
            if s.word not in FILLERS
        ]
        if not min(min_words, len(words)) <= len(aligned) <= len(words):
            raise EngineFailed("the transcript could not be fitted to the audio")
        return aligned

    def _align_phones(
        self,
        decoder: Decoder,
        pcm16k: bytes,
        words: list[WordTiming],
        adapted: MillisecondScorer | None = None,
    ) -> list[PhoneTiming]:
        """``adapted``: the recording's features scored by a model adapted to it already."""
        alignment = self._state_alignment(decoder, pcm16k)
        if alignment is None:
            return []  # words stand without phones rather than fail the file
        segments = _phone_states(alignment)
        # Each phone's acoustic score per frame, from the search (for its confidence).
        logmath = decoder.get_logmath()
        evidence = [
            per_frame(logmath.log_to_ln(entry.score << SENSCR_SHIFT), entry.duration)
            for entry in alignment.phones()
        ]
        scorer = adapted
        if self._millisecond and segments:
            with one_blas_thread():
                if scorer is None:
                    scorer = MillisecondScorer(default_model(), pcm16k)
                if self._adapt and adapted is None:
                    statistics = _statistics(scorer, segments)
                    self.last_statistics = statistics
                    if self.speaker_statistics is not None:
                        statistics = statistics.add(self.speaker_statistics)
                    model = scorer.model
                    transform = estimate_mean_transform(statistics, model.means, model.precisions)
                    scorer = scorer.using(model.adapted(transform))
                edges_ms = place_boundaries(segments, scorer, offset_ms=DECODER_CENTRE_MS)
        else:
            edges_ms = [p.start * 10 for p in segments] + [segments[-1].end * 10 if segments else 0]
        duration_ms = len(pcm16k) // 32
        phones = []
        for i, segment in enumerate(segments):
            if segment.phone in FILLERS:
                continue
            # Phones are matched to words by the decoder's times (the refined ones may cross).
            at = segment.start / FRAMES_PER_SECOND
            index = next((k for k, w in enumerate(words) if w.start <= at < w.end), None)
            # Moved to window centres, the last edge may pass the end of the audio.
            start, end = (min(edges_ms[k], duration_ms) / 1000 for k in (i, i + 1))
            if end > start:
                phones.append(PhoneTiming(segment.phone, start, end, index, evidence=evidence[i]))
        if self._landmarks and phones:
            if scorer is not None:
                phones = snap_to_spectral_change(phones, spectral_change(scorer.cepstra))
            phones = snap_to_voicing(phones, *voicing_transitions(pcm16k))
        return phones


def _phone_states(alignment: Alignment) -> list[PhoneStates]:
    """The alignment's phones with their states' senones (iterating nested entries is not
    memory-safe: states are matched to phones by time)."""
    states = [
        (int(s.name), s.start, s.start + s.duration)
        for s in alignment.states()
        if s.name.isdigit()  # a senone id; anything else leaves its phone unrefined
    ]
    segments = []
    k = 0
    for entry in alignment.phones():
        start, end = entry.start, entry.start + entry.duration
        own = []
        while k < len(states) and states[k][1] < end:
            if states[k][1] >= start:
                own.append(StateSpan(*states[k]))
            k += 1
        segments.append(PhoneStates(entry.name, start, end, tuple(own)))
    return segments


def _statistics(scorer: MillisecondScorer, segments: list[PhoneStates]) -> AdaptationStatistics:
    """What an adaptation of the model to this recording is estimated from: the frames the
    first pass gave each state."""
    # Speech only: pauses (digital silence above all) would pull one shared transform away
    # from the speaker's voice.
    spans = [
        state for segment in segments if segment.phone not in FILLERS for state in segment.states
    ]
    frames = np.concatenate([np.arange(s.start, s.end) for s in spans] or [np.zeros(0, int)])
    senones = np.concatenate(
        [np.full(s.end - s.start, s.senone) for s in spans] or [np.zeros(0, int)]
    )
    return scorer.model.adaptation_statistics(
        scorer.at_decoder_frames(frames, DECODER_CENTRE_MS), senones
    )
