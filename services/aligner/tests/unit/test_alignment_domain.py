from __future__ import annotations

import io
import json
import random
import shutil
import tempfile
import uuid
import wave
from pathlib import Path

import pytest
from praatio import textgrid

from aligner_service.adapters.textgrid import to_textgrid
from aligner_service.domain.quality import assess
from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import EngineFailed
from aligner_service.engines.g2p import EspeakG2P, ipa_to_arpabet
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.evaluation import synthetic_utterance
from contracts.results import AlignedPhone, AlignedWord, AlignmentQuality, AlignmentResult

EVAL = Path(__file__).resolve().parents[5] / "shared" / "data" / "alignment-eval"


def test_tokens_keep_the_written_form_and_a_lookup_key() -> None:
    tokens = tokenize("Don\u2019t   stop: it's WELL-known, 42 times!")
    assert [t.text for t in tokens] == ["Don\u2019t", "stop", "it's", "WELL-known", "42", "times"]
    assert [t.key for t in tokens][:4] == ["don't", "stop", "it's", "well-known"]


def test_tokens_know_their_sentence() -> None:
    tokens = tokenize('He said "stop." Then 3.5 km! Done? yes')
    assert [(t.text, t.sentence) for t in tokens] == [
        ("He", 0),
        ("said", 0),
        ("stop", 0),
        ("Then", 1),
        ("3", 1),
        ("5", 1),
        ("km", 1),
        ("Done", 2),
        ("yes", 3),
    ]


def test_quality_flags_missing_words_and_odd_durations() -> None:
    good = [AlignedWord(word="a", start=0.0, end=0.3), AlignedWord(word="b", start=0.3, end=0.6)]
    assert not assess(good, 2).low_quality
    partial = assess(good, 4)
    assert partial.low_quality and partial.aligned_share == 0.5
    odd = [AlignedWord(word="a", start=0.0, end=5.0), AlignedWord(word="b", start=5.0, end=5.01)]
    assert assess(odd, 2).suspicious_words == [0, 1] and assess(odd, 2).low_quality


def test_textgrid_has_clean_word_and_phone_tiers() -> None:
    result = AlignmentResult(
        file_id=uuid.uuid4(),
        audio_name="a.wav",
        text_name="a.txt",
        duration=1.0,
        engine="test",
        language="en",
        words=[
            AlignedWord(word="hi", start=0.1, end=0.5),
            AlignedWord(word="you", start=0.45, end=1.2),
        ],
        phones=[AlignedPhone(phone="HH", start=0.1, end=0.2, word_index=0)],
        quality=AlignmentQuality(words_total=2, words_aligned=2, aligned_share=1.0),
    )
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "a.TextGrid"
        path.write_bytes(to_textgrid(result))
        grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    words = grid.getTier("words").entries
    assert [(w.start, w.end, w.label) for w in words] == [(0.1, 0.5, "hi"), (0.5, 1.0, "you")]
    assert grid.getTier("phones").entries[0].label == "HH"


@pytest.fixture(scope="module")
def engine() -> PocketSphinxEngine:
    return PocketSphinxEngine()


@pytest.mark.skipif(not EVAL.exists(), reason="the shared evaluation set is not beside the repo")
def test_pocketsphinx_aligns_a_gold_utterance_within_30_ms(engine: PocketSphinxEngine) -> None:
    base = EVAL / "timit" / "dr4-falr0_sx65"
    with wave.open(str(base.with_suffix(".wav"))) as source:
        pcm = source.readframes(source.getnframes())
    reference = json.loads(base.with_suffix(".words.json").read_text())
    words = [t.key for t in tokenize(base.with_suffix(".txt").read_text())]
    output = engine.align(pcm, words, "en")
    errors = [abs(w.start - r["start"]) for w, r in zip(output.words, reference, strict=True)]
    errors += [abs(w.end - r["end"]) for w, r in zip(output.words, reference, strict=True)]
    assert sum(errors) / len(errors) < 0.030
    assert output.phones and all(p.word_index is not None for p in output.phones)


def test_pocketsphinx_refuses_rather_than_inventing_times(engine: PocketSphinxEngine) -> None:
    silence = io.BytesIO(bytes(2 * 16000))
    with pytest.raises(EngineFailed):
        engine.align(silence.getvalue(), ["hello", "world", "again", "and", "again"], "en")
    assert engine.knows("hello") and not engine.knows("qwzxv")


def test_edges_beside_pauses_move_in_to_where_the_sound_is() -> None:
    import math

    from aligner_service.domain.refine import tighten_pause_edges
    from aligner_service.engines.base import PhoneTiming, WordTiming

    def tone(seconds: float) -> list[int]:
        return [
            int(8000 * math.sin(2 * math.pi * 220 * n / 16000)) for n in range(int(16000 * seconds))
        ]

    samples = [0] * 8000 + tone(0.5) + tone(0.5) + [0] * 8000  # 0.5 s quiet, 1 s sound, quiet
    pcm = b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
    words = [WordTiming(0.3, 1.0), WordTiming(1.0, 1.8)]  # loose at the pauses, shared inside
    phones = [PhoneTiming("AH", 0.3, 0.6, 0), PhoneTiming("B", 1.5, 1.8, 1)]
    tight, clipped = tighten_pause_edges(pcm, words, phones)
    assert tight[0].start == pytest.approx(0.5, abs=0.011)
    assert tight[1].end == pytest.approx(1.5, abs=0.011)
    assert (tight[0].end, tight[1].start) == (1.0, 1.0)  # the shared boundary stays
    assert clipped[0].start == tight[0].start and len(clipped) == 1  # a phone in silence goes


@pytest.mark.skipif(not EspeakG2P().available, reason="espeak-ng is not installed")
def test_words_outside_the_dictionary_get_a_pronunciation(engine: PocketSphinxEngine) -> None:
    assert not engine.knows("gruffalo")
    assert engine.learn(["gruffalo", "hello", "gruffalo"]) == ["gruffalo"]
    assert engine.knows("gruffalo")


def test_ipa_becomes_cmu_arpabet() -> None:
    assert ipa_to_arpabet("ɡɹˈʌfəlˌo\u200dʊ") == ["G", "R", "AH", "F", "AH", "L", "OW"]
    assert ipa_to_arpabet("kjˈuːbɚnˌiːts") == ["K", "Y", "UW", "B", "ER", "N", "IY", "T", "S"]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_the_tts_dtw_engine_finds_words_of_another_language() -> None:
    """German speech made word by word with known offsets (another voice than the engine's)."""
    from aligner_service.engines.tts_dtw_engine import TtsDtwEngine

    engine = TtsDtwEngine()
    assert {"de", "fr-fr", "es"} <= set(engine.languages)
    words = ["guten", "morgen", "wir", "fahren", "heute", "mit", "dem", "zug", "nach", "berlin"]
    pcm, known = synthetic_utterance(words, "de", random.Random(3))
    spans = [(start, end) for _, start, end in known]
    output = engine.align(pcm, words, "de")
    errors = [abs(w.start - s) for w, (s, _) in zip(output.words, spans, strict=True)]
    errors += [abs(w.end - e) for w, (_, e) in zip(output.words, spans, strict=True)]
    assert sum(errors) / len(errors) < 0.100
    assert all(w.end > w.start for w in output.words)


def test_files_too_long_for_one_search_are_refused_not_attempted(
    engine: PocketSphinxEngine,
) -> None:
    with pytest.raises(EngineFailed, match="more than one search holds"):
        engine.align(bytes(2 * 16000 * 181), ["hello"], "en")


def test_an_edge_past_the_last_frame_still_moves_in() -> None:
    import math

    from aligner_service.domain.refine import tighten_pause_edges
    from aligner_service.engines.base import WordTiming

    sound = [int(8000 * math.sin(2 * math.pi * 220 * n / 16000)) for n in range(16000)]
    samples = sound + [0] * 4005  # 1 s of sound, then quiet to 1.25 s (not a whole frame)
    pcm = b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
    tight, _ = tighten_pause_edges(pcm, [WordTiming(0.0, 1.26)], [])  # the engine ran over the end
    assert tight[0].end == pytest.approx(1.0, abs=0.011)
