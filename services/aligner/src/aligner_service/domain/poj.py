# ruff: noqa: RUF001 (IPA letters are meant: they are the data)
"""Taiwanese Southern Min (nan) romanised as Pe̍h-ōe-jī / Tâi-lô, read as IPA by rule.

espeak-ng has no voice for Southern Min (its Hakka and Mandarin voices misread the
romanisation: "goa" as English letters), but the romanisation is phonemic: each syllable
is an initial, a vowel nucleus, a nasal mark ("nn", ⁿ) and a coda, read here in that order.
Tone marks and tone numbers are ignored (the acoustic model has no tones).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["poj_phones", "poj_to_ipa"]

# Longest first, so that "chh" is not read as "ch" + "h".
INITIALS = {
    "chh": "t͡sʰ", "tsh": "t͡sʰ", "ch": "t͡s", "ts": "t͡s", "ph": "pʰ", "th": "tʰ", "kh": "kʰ",
    "ng": "ŋ", "b": "b", "g": "ɡ", "h": "h", "j": "d͡z", "k": "k", "l": "l", "m": "m",
    "n": "n", "p": "p", "s": "s", "t": "t",
}  # fmt: skip
# The medial u and i of oa, oe, io... are glides (w, j): the vowel is the last letter.
VOWELS = {"oo": "ɔ", "o͘": "ɔ", "ou": "ɔ", "ee": "ɛ", "oa": "wa", "oe": "we", "ai": "ai",
          "au": "au", "ia": "ja", "io": "jo", "iu": "ju", "ui": "wi", "a": "a", "e": "e",
          "i": "i", "o": "o", "u": "u"}  # fmt: skip
DIPHTHONGS = ("ai", "au")  # one phone each (the model's AY, AW)
CODAS = {"ng": "ŋ", "m": "m", "n": "n", "p": "p̚", "t": "t̚", "k": "k̚", "h": "ʔ"}
SYLLABIC = {"ng": "ŋ̍", "m": "m̩"}
NASAL = "\u0303"
SYLLABLE = re.compile(r"^(?P<nucleus>[aeiou͘]+)?(?P<nasal>nn|ⁿ)?(?P<coda>ng|m|n|p|t|k|h)?$")


def _initial(syllable: str) -> tuple[str, str]:
    for spelt in sorted(INITIALS, key=len, reverse=True):
        if syllable.startswith(spelt):
            rest = syllable[len(spelt) :]
            # A bare "ng" or "m" after the initial is the syllabic nasal (tng, nng, hm).
            if rest == "" and spelt in SYLLABIC:
                return "", SYLLABIC[spelt]
            return INITIALS[spelt], rest
    return "", syllable


def _nucleus(spelt: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(spelt):
        two = spelt[i : i + 2]
        if two in VOWELS:
            read, i = VOWELS[two], i + 2
        else:
            read, i = VOWELS.get(spelt[i], ""), i + 1
        out += [read] if read in DIPHTHONGS else list(read)
    return out


def poj_to_ipa(word: str) -> str:
    """IPA for a romanised syllable or hyphenated word ("khoann" -> kʰwã); "" when it is
    not romanisation this reads."""
    return "".join(poj_phones(word))


def poj_phones(word: str) -> list[str]:
    """The IPA phones of a romanised word (diphthongs ai, au one phone each); [] when it is
    not romanisation this reads."""
    # Tone diacritics off (but o͘'s dot stays: it is a vowel of its own); digits are tones.
    bare = "".join(
        c
        for c in unicodedata.normalize("NFD", word.lower())
        if not (unicodedata.combining(c) and c != "\u0358") and not c.isdigit()
    )
    parts: list[str] = []
    for syllable in re.split(r"[-\s]+", bare):
        if not syllable:
            continue
        initial, rest = _initial(syllable)
        onset = [initial] if initial else []
        if rest in SYLLABIC and not initial:  # ng, m alone
            parts.append(SYLLABIC[rest])
            continue
        if rest in SYLLABIC.values():
            parts += [*onset, rest]
            continue
        match = SYLLABLE.match(rest)
        if match is None:
            return []
        nucleus = _nucleus(match.group("nucleus") or "")
        coda = match.group("coda") or ""
        if not nucleus:
            if coda in SYLLABIC:  # "tng": t + syllabic ng
                parts += [*onset, SYLLABIC[coda]]
                continue
            return []
        if match.group("nasal"):
            nucleus = [v + NASAL for v in nucleus]
        parts += [*onset, *nucleus, *([CODAS[coda]] if coda else [])]
    return [unicodedata.normalize("NFC", p) for p in parts]
