"""A job's own pronunciations extend or override the engine's, for that job only; words
that were guessed are named with the pronunciation used."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import DefinesWords
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.engines.tts_dtw_engine import TtsDtwEngine
from aligner_service.service_layer.align_file import lexicon

EVAL = Path(__file__).resolve().parents[5] / "shared" / "data" / "alignment-eval"


@pytest.fixture(scope="module")
def engine() -> PocketSphinxEngine:
    return PocketSphinxEngine()


def test_a_job_pronunciation_is_a_word_of_its_own(engine: PocketSphinxEngine) -> None:
    assert isinstance(engine, DefinesWords)
    before = engine.guessed(["challenge"])
    names = engine.define({"challenge": ["CH", "AE", "L", "IH", "N", "JH"], "zq": ["Q"]})
    assert set(names) == {"challenge"}  # "Q" is no ARPAbet phone: left out
    assert names["challenge"] != "challenge" and engine.knows(names["challenge"])
    assert engine.define({"challenge": ["CH", "AE", "L", "IH", "N", "JH"]}) == names  # reused
    assert engine.guessed(["challenge"]) == before == {}  # the word's own is untouched


def test_guessed_words_come_with_the_pronunciation_used(engine: PocketSphinxEngine) -> None:
    words = lexicon(
        engine, ["the", "gruffalo", "tomato"], {"tomato": ["T", "AH", "M", "AA", "T", "OW"]}
    )
    assert [g.word for g in words.guessed] == ["gruffalo"]
    assert words.guessed[0].phones[0] == "G"
    assert words.name("tomato") != "tomato" and words.name("the") == "the"
    assert words.notes == []


@pytest.mark.skipif(not EVAL.exists(), reason="the shared evaluation set is not beside the repo")
def test_an_utterance_aligns_with_a_job_pronunciation(engine: PocketSphinxEngine) -> None:
    base = EVAL / "timit" / "dr4-falr0_sx65"
    with wave.open(str(base.with_suffix(".wav"))) as source:
        pcm = source.readframes(source.getnframes())
    keys = [t.key for t in tokenize(base.with_suffix(".txt").read_text())]
    words = lexicon(engine, keys, {"general's": ["JH", "EH", "N", "R", "AH", "L", "Z"]})
    output = engine.align(pcm, [words.name(k) for k in keys], "en")
    assert len(output.words) == len(keys)
    assert [p.phone for p in output.phones if p.word_index == 2] == [
        "JH",
        "EH",
        "N",
        "R",
        "AH",
        "L",
        "Z",
    ]


def test_an_engine_without_pronunciations_says_so() -> None:
    words = lexicon(TtsDtwEngine(), ["hallo", "welt"], {"welt": ["V", "EH", "L", "T"]})
    assert words.names == {} and words.guessed == ()
    assert words.notes == ["the tts-dtw engine does not use a job's own pronunciations"]
