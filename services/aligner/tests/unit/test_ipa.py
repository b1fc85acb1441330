"""IPA segmentation and mapping onto the English model's phones; the espeak-phones engine
on real non-English speech from the evaluation set."""

from __future__ import annotations

import json
import os
import shutil
import wave
from pathlib import Path

import pytest

from aligner_service.domain.ipa import (
    espeak_units,
    ipa_tokens,
    ipa_word,
    is_ipa_word,
    segment,
    to_arpabet,
)
from aligner_service.domain.poj import poj_phones
from aligner_service.engines.base import PhoneTiming
from aligner_service.engines.espeak_phones_engine import pronunciation, relabel, spoken
from aligner_service.engines.g2p import ARPABET

EVAL = Path(
    os.environ.get("ALIGNMENT_EVAL_DIR")
    or Path(__file__).resolve().parents[5] / "shared" / "data" / "alignment-eval"
)
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


@pytest.mark.parametrize(
    ("ipa", "phones"),
    [
        ("tʲɛlɔ", ["tʲ", "ɛ", "l", "ɔ"]),  # Czech: palatalisation stays on its consonant
        ("vaːt͡ʃɛk", ["v", "aː", "t͡ʃ", "ɛ", "k"]),  # length mark; affricate over a tie
        ("ˈɣaiðarɔs", ["ɣ", "a", "i", "ð", "a", "r", "ɔ", "s"]),  # Greek; stress dropped
        ("pɛntʂamẽn̪d̪u", ["p", "ɛ", "n", "t", "ʂ", "a", "m", "ẽ", "n̪", "d̪", "u"]),  # Basque
        ("ʔɪç", ["ʔ", "ɪ", "ç"]),  # German: the glottal stop is a phone of its own
        ("pɔ̃.ʃɛʁ", ["p", "ɔ̃", "ʃ", "ɛ", "ʁ"]),  # French: nasal vowel; syllable dot dropped
        ("ma˥˩", ["m", "a"]),  # tone letters are no phones
    ],
)
def test_ipa_is_segmented_into_phones_with_their_marks(ipa: str, phones: list[str]) -> None:
    assert segment(ipa) == phones


@pytest.mark.parametrize(
    ("phone", "arpabet"),
    [
        ("t͡ʃ", ("CH",)),
        ("tʃ", ("CH",)),
        ("t͡s", ("CH",)),  # German z: the model has no ts; its nearest affricate
        ("p͡f", ("P", "F")),  # German pf: two model phones
        ("aɪ", ("AY",)),
        ("tʲ", ("T",)),
        ("ð", ("DH",)),
        ("ɣ", ("G",)),  # Greek: no velar fricative in the model
        ("x", ("HH",)),
        ("ç", ("HH",)),
        ("ʁ", ("R",)),  # every r is the model's R
        ("ɾ", ("R",)),
        ("ŋ", ("NG",)),
        ("ʂ", ("SH",)),
        ("ɛ", ("EH",)),
        ("aː", ("AA",)),
        ("ɔ", ("AO",)),
        ("ə", ("AH",)),
        ("œ", ("AH",)),
        ("ɔ̃", ("AO",)),  # nasality dropped
        ("y", ("IY",)),
        ("u", ("UW",)),
        ("ʊ", ("UH",)),
        ("ʔ", ()),  # the model cannot say a glottal stop
    ],
)
def test_phones_map_onto_the_nearest_model_phone(phone: str, arpabet: tuple[str, ...]) -> None:
    assert to_arpabet(phone) == arpabet


def test_every_ipa_letter_of_the_tables_maps_into_the_model() -> None:
    from aligner_service.domain.ipa import IPA_CONSONANTS, IPA_VOWELS

    for letter in [*IPA_CONSONANTS, *IPA_VOWELS]:
        assert set(to_arpabet(letter)) <= set(ARPABET), letter
        assert to_arpabet(letter), letter


def test_espeak_units_keep_its_phonemes_and_drop_stress() -> None:
    assert espeak_units("m_ˈɑː_l_ə__") == ["m", "ɑː", "l", "ə"]
    assert espeak_units("tʃ_ˈy_s") == ["tʃ", "y", "s"]
    assert espeak_units("ʒ_ə-", keep_optional=False) == ["ʒ"]


def test_an_ipa_transcript_is_read_word_by_word() -> None:
    tokens = ipa_tokens("/vaːt͡ʃɛk/ tʲɛlɔ\nkaimɛnɔs")
    assert [t.text for t in tokens] == ["vaːt͡ʃɛk", "tʲɛlɔ", "kaimɛnɔs"]
    assert [t.sentence for t in tokens] == [0, 0, 1]
    assert all(is_ipa_word(t.key) for t in tokens)
    assert tokens[1].key == ipa_word("tʲɛlɔ")
    assert not is_ipa_word("tělo")


def test_phones_the_model_hears_alike_are_one_search_phone() -> None:
    # French "puis": y and i both map to IY; a glottal stop has no model phone.
    assert pronunciation(["p", "y", "i"]) == (("p", ("P",)), ("yi", ("IY",)))
    assert spoken(pronunciation(["ʔ", "a", "p͡f"])) == ["AA", "P", "F"]


def test_model_phones_are_relabelled_in_ipa() -> None:
    said = [pronunciation(["p͡f", "a"]), pronunciation(["v"])]
    found = [
        PhoneTiming("P", 0.10, 0.13, 0),
        PhoneTiming("F", 0.13, 0.20, 0),
        PhoneTiming("AA", 0.20, 0.30, 0),
        PhoneTiming("V", 0.30, 0.40, 1),
    ]
    assert [(p.phone, p.start, p.end) for p in relabel(found, said)] == [
        ("p͡f", 0.10, 0.20),
        ("a", 0.20, 0.30),
        ("v", 0.30, 0.40),
    ]


@pytest.mark.parametrize(
    ("romanised", "phones"),
    [
        ("chit", ["t͡s", "i", "t̚"]),
        ("khoann", ["kʰ", "w̃", "ã"]),  # nn: nasal vowel; oa: glide and vowel
        ("pai", ["p", "ai"]),  # a diphthong is one phone (AY)
        ("tng", ["t", "ŋ̍"]),  # syllabic ng
        ("kah", ["k", "a", "ʔ"]),
        ("tâi-oân", ["t", "ai", "w", "a", "n"]),  # tone marks off, syllables joined
    ],
)
def test_southern_min_romanisation_is_read_as_ipa(romanised: str, phones: list[str]) -> None:
    assert poj_phones(romanised) == phones


def _pcm(path: Path) -> bytes:
    with wave.open(str(path)) as source:
        pcm: bytes = source.readframes(source.getnframes())
    return pcm


@needs_espeak
@pytest.mark.skipif(not (EVAL / "voxangeles").exists(), reason="the evaluation set is absent")
def test_a_czech_word_in_ipa_gives_its_phones_near_the_reference() -> None:
    from aligner_service.engines.espeak_phones_engine import EspeakPhonesEngine

    base = EVAL / "voxangeles" / "ces-004-011"
    ipa = (base.with_suffix(".txt")).read_text(encoding="utf-8").strip()
    output = EspeakPhonesEngine().align(_pcm(base.with_suffix(".wav")), [ipa_word(ipa)], "cs")
    reference = json.loads(Path(f"{base}.phones.json").read_text())
    assert [p.phone for p in output.phones] == [p["phone"] for p in reference]
    for got, want in zip(output.phones, reference, strict=True):
        assert abs(got.start - want["start"]) < 0.05


@needs_espeak
@pytest.mark.skipif(not (EVAL / "emuwebapp_de").exists(), reason="the evaluation set is absent")
def test_german_speech_gives_words_and_ipa_phones() -> None:
    from aligner_service.engines.espeak_phones_engine import EspeakPhonesEngine

    base = EVAL / "emuwebapp_de" / "ichmalemitherrndunnerer"
    words = base.with_suffix(".txt").read_text(encoding="utf-8").split()
    output = EspeakPhonesEngine().align(_pcm(base.with_suffix(".wav")), words, "de")
    reference = json.loads(Path(f"{base}.words.json").read_text())
    assert len(output.words) == len(reference)
    for got, want in zip(output.words, reference, strict=True):
        assert abs(got.start - want["start"]) < 0.1
    assert {p.phone for p in output.phones} >= {"m", "ɪ", "ç"}  # IPA, not ARPAbet
    assert all(p.word_index is not None for p in output.phones)
