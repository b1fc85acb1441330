"""Long files: cut at pauses by a coarse pass, each piece aligned exactly, timings joined."""

from __future__ import annotations

import random
import shutil
import statistics
import wave
from pathlib import Path

import pytest

from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import EngineFailed, EngineOutput
from aligner_service.engines.long_audio import (
    ONE_PIECE_SECONDS,
    LongAudioAligner,
    PcmBytes,
    WavFile,
)
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.engines.tts_dtw_engine import TtsDtwEngine
from aligner_service.evaluation import joined_recording, synthetic_utterance

LongEnglish = tuple[WavFile, list[str], list[tuple[str, float, float]]]
EVAL = Path(__file__).resolve().parents[5] / "shared" / "data" / "alignment-eval"

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


@pytest.fixture(scope="module")
def pocketsphinx() -> PocketSphinxEngine:
    return PocketSphinxEngine()


@pytest.fixture(scope="module")
def locator() -> TtsDtwEngine:
    return TtsDtwEngine()


@pytest.fixture(scope="module")
def long_english(tmp_path_factory: pytest.TempPathFactory) -> LongEnglish:
    """About four minutes of gold-labelled English (TIMIT and praatio utterances joined)."""
    folders = [EVAL / "timit", EVAL / "praatio"]
    pcm, text, reference = joined_recording(folders, 240, random.Random(5))
    path = tmp_path_factory.mktemp("long") / "long.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(pcm)
    return WavFile(path), [t.key for t in tokenize(text)], reference


def _errors(output: EngineOutput, reference: list[tuple[str, float, float]]) -> list[float]:
    assert len(output.words) == len(reference)
    return [
        abs(got - want)
        for w, (_, start, end) in zip(output.words, reference, strict=True)
        for got, want in ((w.start, start), (w.end, end))
    ]


def test_a_four_minute_file_aligns_as_well_as_its_utterances_alone(
    pocketsphinx: PocketSphinxEngine, locator: TtsDtwEngine, long_english: LongEnglish
) -> None:
    source, words, reference = long_english
    assert source.duration > 230
    pocketsphinx.learn(words)
    assert all(pocketsphinx.knows(w) for w in words)
    shares: list[float] = []
    output = LongAudioAligner(lambda: locator).align(
        pocketsphinx, source, words, "en", shares.append
    )
    errors = _errors(output, reference)
    assert statistics.mean(errors) < 0.035  # one utterance at a time: about 21 ms
    assert sum(e <= 0.050 for e in errors) / len(errors) > 0.85
    assert output.coarse_words == 0 and not output.notes
    assert len(output.phones) > 3 * len(words)
    assert all(0 <= p.word_index < len(words) for p in output.phones if p.word_index is not None)
    # Each piece's confidence is carried to the file's words: a right transcript scores high.
    assert sum((w.confidence or 0) > 0.5 for w in output.words) / len(words) > 0.9
    # Progress is reported as it goes, never backwards, and ends at 1.
    assert len(shares) > 8 and shares == sorted(shares) and shares[-1] == 1.0


def test_a_piece_the_engine_cannot_fit_keeps_coarse_times_and_says_so(
    pocketsphinx: PocketSphinxEngine, locator: TtsDtwEngine, long_english: LongEnglish
) -> None:
    source, words, reference = long_english

    class FailsOnce:
        """PocketSphinx, except that the second piece it is given cannot be fitted."""

        name = "flaky"
        languages: tuple[str, ...] = ("en",)
        outputs_phones = True
        calls = 0

        def knows(self, word: str) -> bool:
            return pocketsphinx.knows(word)

        def learn(self, words: list[str]) -> list[str]:
            return pocketsphinx.learn(words)

        def align(self, pcm: bytes, words: list[str], language: str) -> EngineOutput:
            return self.align_prefix(pcm, words, language, len(words))

        def align_prefix(
            self, pcm: bytes, words: list[str], language: str, min_words: int
        ) -> EngineOutput:
            self.calls += 1
            if self.calls == 2:
                raise EngineFailed("the transcript could not be fitted to the audio")
            return pocketsphinx.align_prefix(pcm, words, language, min_words)

    output = LongAudioAligner(lambda: locator).align(FailsOnce(), source, words, "en")
    assert len(output.words) == len(words)  # nothing dropped, nothing invented
    assert 0 < output.coarse_words < len(words) // 4
    assert len(output.notes) == 1 and "coarse pass" in output.notes[0]
    errors = _errors(output, reference)
    assert statistics.median(errors) < 0.030


def test_the_exact_search_decides_where_a_piece_ends_in_the_transcript(
    pocketsphinx: PocketSphinxEngine,
) -> None:
    base = EVAL / "librispeech" / "1272-128104-0000"
    with wave.open(str(base.with_suffix(".wav"))) as wav:
        pcm = wav.readframes(wav.getnframes())
    words = [t.key for t in tokenize(base.with_suffix(".txt").read_text())]
    extra = ["the", "following", "sentence", "begins"]
    output = pocketsphinx.align_prefix(pcm, words + extra, "en", min_words=len(words) - 3)
    assert len(output.words) == len(words)
    assert output.phones and max(p.word_index or 0 for p in output.phones) == len(words) - 1


def test_other_languages_are_cut_by_the_same_pass(locator: TtsDtwEngine) -> None:
    rng = random.Random(8)
    vocabulary = (
        *("der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "mit", "auf"),
        *("haus", "straße", "wasser", "morgen", "abend", "freund", "stadt", "garten"),
    )
    words = [rng.choice(vocabulary) for _ in range(200)]
    pcm, reference = synthetic_utterance(words, "de", rng, max_pause=0.4)
    source = PcmBytes(pcm)
    assert source.duration > ONE_PIECE_SECONDS
    output = LongAudioAligner(lambda: locator).align(locator, source, words, "de")
    errors = _errors(output, reference)
    assert statistics.mean(errors) < 0.100


def test_without_a_voice_for_the_language_a_long_file_fails_clearly(
    pocketsphinx: PocketSphinxEngine, locator: TtsDtwEngine
) -> None:
    source_pcm = bytes(2 * 16_000 * int(ONE_PIECE_SECONDS + 5))
    with pytest.raises(EngineFailed, match="espeak-ng has no voice"):
        LongAudioAligner(lambda: locator).align(
            pocketsphinx, PcmBytes(source_pcm), ["hello"], "xx-unknown"
        )
