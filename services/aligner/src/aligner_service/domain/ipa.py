# ruff: noqa: RUF001, RUF002 (IPA letters are meant: they are the data)
"""IPA phones onto the English acoustic model's phones (ARPAbet), by articulatory features.

The cross-language idea of MAUS's language-independent mode: a language without a model of
its own is aligned with the phones of one that has one, each sound taking the model phone
that is made most alike (place, manner and voicing of consonants; height, backness and
rounding of vowels). Pure data and functions: segmentation of IPA strings into phones, and
the mapping of one phone onto one or more ARPAbet phones.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from aligner_service.domain.transcript import Token

__all__ = [
    "WORD_MARK",
    "espeak_units",
    "ipa_tokens",
    "ipa_word",
    "is_ipa_word",
    "segment",
    "to_arpabet",
]

# Words given as IPA travel to the engine between slashes, as phoneticians write phonemic
# transcriptions: the engine reads them as sounds instead of spelling.
WORD_MARK = "/"

# espeak-ng marks a word it reads in another language's voice: "(en)...(fr)".
LANGUAGE_SWITCH = re.compile(r"\([a-z][a-z0-9-]*\)")
TIES = {"\u0361", "\u035c"}  # t͡ʃ, t͜s: the next letter belongs to the same phone
DROPPED = set("ˈˌ.|‖‿-_'") | set("˥˦˧˨˩0123456789")  # stress, syllables, tones: not phones
# Modifier letters that are phones of their own, not marks on the previous one.
STANDALONE_MODIFIERS = {"ʔ", "ˀ"}


def ipa_word(ipa: str) -> str:
    return f"{WORD_MARK}{ipa}{WORD_MARK}"


def ipa_tokens(transcript: str) -> list[Token]:
    """An IPA transcript's words (``transcript_format=ipa``): separated by white space, each
    line a sentence; slashes or brackets around the whole are the phonetician's, not sounds."""
    tokens = []
    for sentence, line in enumerate(transcript.splitlines()):
        for word in line.split():
            ipa = unicodedata.normalize("NFC", word.strip("/[]"))
            if ipa:
                tokens.append(Token(ipa, ipa_word(ipa), sentence))
    return tokens


def is_ipa_word(word: str) -> bool:
    return len(word) > 2 and word.startswith(WORD_MARK) and word.endswith(WORD_MARK)


def _attaches(char: str) -> bool:
    """Diacritics and modifier letters (ʲ ʰ ː ̃ ̪ ...) belong to the phone before them."""
    if char in STANDALONE_MODIFIERS:
        return False
    return unicodedata.category(char) in {"Mn", "Me", "Lm", "Sk"} or char in {"ː", "ˑ"}


def segment(ipa: str) -> list[str]:
    """The phones of an IPA string: each letter with its diacritics, length marks and, over a
    tie bar, the letter it is tied to; stress, syllable and tone marks dropped. Phones come
    back in NFC (precomposed where Unicode has it, as transcripts are usually written)."""
    phones: list[str] = []
    tied = False
    for char in unicodedata.normalize("NFD", ipa.strip()):
        if char.isspace() or char in DROPPED:
            tied = False
            continue
        if char in TIES:
            if phones:
                phones[-1] += char
                tied = True
            continue
        if phones and (tied or _attaches(char)):
            phones[-1] += char
            tied = False
            continue
        phones.append(char)
        tied = False
    return [unicodedata.normalize("NFC", p) for p in phones]


def espeak_units(line: str, keep_optional: bool = True) -> list[str]:
    """espeak-ng's own phonemes from its ``--ipa --sep=_`` output for one word: diphthongs
    and affricates stay one unit, as the language's phonology has them. Vowels espeak-ng
    marks as droppable ("ə-": French je, le, de) are left out unless kept: in running speech
    they are mostly not said, and the search gives every phone 30 ms at least."""
    units = []
    line = LANGUAGE_SWITCH.sub("", line)
    for part in line.replace(" ", "_").split("_"):
        if part.endswith("-") and not keep_optional:
            continue
        # Stress marks and tone numbers (Chinese voices) are no phones.
        unit = "".join(c for c in part if c not in "ˈˌ-" and not c.isdigit())
        if unit:
            units.append(unit)
    if not units and not keep_optional:
        return espeak_units(line, keep_optional=True)
    return units


# --- features -------------------------------------------------------------------------

# Place of articulation, front to back; the distance between places is how far apart
# they are in this order.
PLACE = {
    "bilabial": 0.0, "labiodental": 1.0, "dental": 2.0, "alveolar": 2.5, "postalveolar": 3.5,
    "retroflex": 3.5, "palatal": 4.5, "velar": 5.5, "uvular": 6.5, "pharyngeal": 7.5,
    "glottal": 8.5,
}  # fmt: skip
# What a manner costs in place of another (symmetric; absent pairs cost MANNER_DEFAULT).
MANNER_COST = {
    frozenset({"stop", "affricate"}): 1.0,
    frozenset({"affricate", "fricative"}): 1.0,
    frozenset({"stop", "fricative"}): 1.5,
    frozenset({"approximant", "fricative"}): 1.5,
    frozenset({"lateral", "approximant"}): 1.5,
    frozenset({"rhotic", "approximant"}): 1.5,
    frozenset({"rhotic", "lateral"}): 2.0,
    frozenset({"nasal", "stop"}): 2.5,
}
MANNER_DEFAULT = 3.0
PLACE_WEIGHT = 0.5
VOICE_WEIGHT = 1.0

Consonant = tuple[str, str, bool]  # place, manner, voiced
Vowel = tuple[float, float, bool]  # height (0 close .. 6 open), backness (0 front .. 2 back), round

IPA_CONSONANTS: dict[str, Consonant] = {
    "p": ("bilabial", "stop", False), "b": ("bilabial", "stop", True),
    "t": ("alveolar", "stop", False), "d": ("alveolar", "stop", True),
    "ʈ": ("retroflex", "stop", False), "ɖ": ("retroflex", "stop", True),
    "c": ("palatal", "stop", False), "ɟ": ("palatal", "stop", True),
    "k": ("velar", "stop", False), "g": ("velar", "stop", True), "ɡ": ("velar", "stop", True),
    "q": ("uvular", "stop", False), "ɢ": ("uvular", "stop", True),
    "m": ("bilabial", "nasal", True), "ɱ": ("labiodental", "nasal", True),
    "n": ("alveolar", "nasal", True), "ɳ": ("retroflex", "nasal", True),
    "ɲ": ("palatal", "nasal", True), "ŋ": ("velar", "nasal", True), "ɴ": ("uvular", "nasal", True),
    # Rhotics are one class whatever their manner: every language's r aligns best with the
    # model's one r (its tap, trill or uvular fricative have no closer model phone).
    "r": ("alveolar", "rhotic", True), "ɾ": ("alveolar", "rhotic", True),
    "ɹ": ("alveolar", "rhotic", True), "ɻ": ("retroflex", "rhotic", True),
    "ɽ": ("retroflex", "rhotic", True), "ʀ": ("uvular", "rhotic", True),
    "ʁ": ("uvular", "rhotic", True), "ʙ": ("bilabial", "rhotic", True),
    "ɸ": ("bilabial", "fricative", False), "β": ("bilabial", "fricative", True),
    "f": ("labiodental", "fricative", False), "v": ("labiodental", "fricative", True),
    "θ": ("dental", "fricative", False), "ð": ("dental", "fricative", True),
    "s": ("alveolar", "fricative", False), "z": ("alveolar", "fricative", True),
    "ʃ": ("postalveolar", "fricative", False), "ʒ": ("postalveolar", "fricative", True),
    "ʂ": ("retroflex", "fricative", False), "ʐ": ("retroflex", "fricative", True),
    "ɕ": ("postalveolar", "fricative", False), "ʑ": ("postalveolar", "fricative", True),
    "ç": ("palatal", "fricative", False), "ʝ": ("palatal", "fricative", True),
    "x": ("velar", "fricative", False), "ɣ": ("velar", "fricative", True),
    "χ": ("uvular", "fricative", False),
    "ħ": ("pharyngeal", "fricative", False), "ʕ": ("pharyngeal", "fricative", True),
    "h": ("glottal", "fricative", False), "ɦ": ("glottal", "fricative", True),
    "ɬ": ("alveolar", "fricative", False), "ɮ": ("alveolar", "fricative", True),
    "ʋ": ("labiodental", "approximant", True), "j": ("palatal", "approximant", True),
    "ɰ": ("velar", "approximant", True), "w": ("velar", "approximant", True),
    "ɥ": ("palatal", "approximant", True),
    "l": ("alveolar", "lateral", True), "ɫ": ("alveolar", "lateral", True),
    "ɭ": ("retroflex", "lateral", True), "ʎ": ("palatal", "lateral", True),
    "ʟ": ("velar", "lateral", True),
}  # fmt: skip

IPA_VOWELS: dict[str, Vowel] = {
    "i": (0, 0, False), "y": (0, 0, True), "ɨ": (0, 1, False), "ʉ": (0, 1, True),
    "ɯ": (0, 2, False), "u": (0, 2, True),
    "ɪ": (1, 0, False), "ʏ": (1, 0, True), "ᵻ": (1, 1, False), "ʊ": (1, 2, True),
    "e": (2, 0, False), "ø": (2, 0, True), "ɘ": (2, 1, False), "ɵ": (2, 1, True),
    "ɤ": (2, 2, False), "o": (2, 2, True),
    "ə": (3, 1, False), "ɚ": (3, 1, False), "ɝ": (4, 1, False),
    "ɛ": (4, 0, False), "œ": (4, 0, True), "ɜ": (4, 1, False), "ɞ": (4, 1, True),
    "ʌ": (4, 2, False), "ɔ": (4, 2, True),
    "æ": (5, 0, False), "ɐ": (5, 1, False),
    # Most languages write their central open vowel as a: it is nearer the model's AA
    # (open, back) than its AE (near-open, front), so it is placed between them.
    "a": (6, 1, False), "ɶ": (6, 0, True), "ɑ": (6, 2, False), "ɒ": (6, 2, True),
}  # fmt: skip

ARPABET_CONSONANTS: dict[str, Consonant] = {
    "P": ("bilabial", "stop", False), "B": ("bilabial", "stop", True),
    "T": ("alveolar", "stop", False), "D": ("alveolar", "stop", True),
    "K": ("velar", "stop", False), "G": ("velar", "stop", True),
    "CH": ("postalveolar", "affricate", False), "JH": ("postalveolar", "affricate", True),
    "F": ("labiodental", "fricative", False), "V": ("labiodental", "fricative", True),
    "TH": ("dental", "fricative", False), "DH": ("dental", "fricative", True),
    "S": ("alveolar", "fricative", False), "Z": ("alveolar", "fricative", True),
    "SH": ("postalveolar", "fricative", False), "ZH": ("postalveolar", "fricative", True),
    "HH": ("glottal", "fricative", False),
    "M": ("bilabial", "nasal", True), "N": ("alveolar", "nasal", True),
    "NG": ("velar", "nasal", True),
    "L": ("alveolar", "lateral", True), "R": ("alveolar", "rhotic", True),
    "W": ("velar", "approximant", True), "Y": ("palatal", "approximant", True),
}  # fmt: skip

# Monophthongs only (the model's diphthongs are matched as whole sequences below; ER only
# for r-coloured vowels, which other languages' schwas are not). EY and
# OW stand for the close-mid e and o, which English has only as their first half.
ARPABET_VOWELS: dict[str, Vowel] = {
    "IY": (0, 0, False), "IH": (1, 0, False), "EY": (2, 0, False), "EH": (4, 0, False),
    "AE": (5, 0, False), "AH": (4, 1.5, False),
    "AA": (6, 2, False), "AO": (4, 2, True), "OW": (2, 2, True), "UH": (1, 2, True),
    "UW": (0, 2, True),
}  # fmt: skip
HEIGHT_WEIGHT = 1.0
BACKNESS_WEIGHT = 1.0
ROUND_WEIGHT = 1.5

# Sequences that are one phone of the model (diphthongs, affricates), and single sounds
# whose nearest phones are better said outright than found by features.
SEQUENCES: dict[str, list[str]] = {
    "aɪ": ["AY"], "ai": ["AY"], "ɑɪ": ["AY"], "aʊ": ["AW"], "au": ["AW"], "ɑʊ": ["AW"],
    "ɔɪ": ["OY"], "ɔʏ": ["OY"], "oɪ": ["OY"], "eɪ": ["EY"], "ei": ["EY"],
    "oʊ": ["OW"], "əʊ": ["OW"], "ou": ["OW"],
    "tʃ": ["CH"], "dʒ": ["JH"], "tɕ": ["CH"], "dʑ": ["JH"], "ʈʂ": ["CH"], "ɖʐ": ["JH"],
    # The alveolar affricates are nearest the model's postalveolar ones by every feature but
    # place (and T S would take twice the minimum time of one phone).
    "ts": ["CH"], "dz": ["JH"], "pf": ["P", "F"], "tθ": ["T", "TH"],
    "ɚ": ["ER"], "ɝ": ["ER"], "ɜː": ["ER"],
    # Back fricatives: the model has no velar or uvular fricative, and by place alone
    # they would go to SH; their noise is nearest the model's HH, voiced ones its G.
    "x": ["HH"], "χ": ["HH"], "ç": ["HH"], "ħ": ["HH"], "ɣ": ["G"], "ʁ̞": ["R"],
    "ɲ": ["N"], "ɴ": ["NG"], "ɐ": ["AH"],
    # The open-mid front rounded vowel (French "euh", "peur") sounds nearer the model's
    # mid-central AH than its front unrounded EH, which the features tie with.
    "œ": ["AH"],
}  # fmt: skip
SILENT = {"ʔ", "ˀ"}  # the glottal stop has no model phone: it is left out of the search
# Marks that change nothing the model can hear are stripped before the features are looked
# up (length, nasality, place diacritics, palatalisation, aspiration, syllabicity...).


def _strip(phone: str) -> str:
    base = "".join(
        c for c in unicodedata.normalize("NFD", phone) if not _attaches(c) and c not in TIES
    )
    return base


def _consonant_distance(a: Consonant, b: Consonant) -> float:
    manner = 0.0 if a[1] == b[1] else MANNER_COST.get(frozenset({a[1], b[1]}), MANNER_DEFAULT)
    place = abs(PLACE[a[0]] - PLACE[b[0]]) * PLACE_WEIGHT
    return manner + place + (0.0 if a[2] == b[2] else VOICE_WEIGHT)


def _vowel_distance(a: Vowel, b: Vowel) -> float:
    return (
        abs(a[0] - b[0]) * HEIGHT_WEIGHT
        + abs(a[1] - b[1]) * BACKNESS_WEIGHT
        + (0.0 if a[2] == b[2] else ROUND_WEIGHT)
    )


def _nearest_consonant(features: Consonant) -> str:
    return min(
        ARPABET_CONSONANTS, key=lambda p: _consonant_distance(features, ARPABET_CONSONANTS[p])
    )


def _nearest_vowel(features: Vowel) -> str:
    return min(ARPABET_VOWELS, key=lambda p: _vowel_distance(features, ARPABET_VOWELS[p]))


@cache
def to_arpabet(phone: str) -> tuple[str, ...]:  # noqa: PLR0911 (one return per kind of sound)
    """The model phones that say this IPA phone (or a sequence espeak-ng keeps as one: a
    diphthong, an affricate): usually one, two for an affricate the model lacks (ts), none
    for a sound it cannot hear as a phone (the glottal stop). Unknown letters fall back by
    their kind: a vowel-like letter to AH, anything else to nothing."""
    phone = unicodedata.normalize("NFC", phone)
    bare = _strip(phone)
    if not bare:
        return ()
    for key in (phone, bare, unicodedata.normalize("NFC", bare)):
        if key in SEQUENCES:
            return tuple(SEQUENCES[key])
    if bare in SILENT:
        return ()
    if len(bare) == 1:
        if bare in IPA_CONSONANTS:
            return (_nearest_consonant(IPA_CONSONANTS[bare]),)
        if bare in IPA_VOWELS:
            return (_nearest_vowel(IPA_VOWELS[bare]),)
        # Letters the tables lack: a vowel sign by its name, anything else is left out.
        name = unicodedata.name(bare, "")
        return ("AH",) if "VOWEL" in name or bare in "aeiouæøœ" else ()
    # A sequence (a diphthong espeak-ng keeps together, a doubled letter): phone by phone.
    mapped: list[str] = []
    for part in segment(bare):
        mapped += to_arpabet(part)
    return tuple(mapped)
