"""Pronunciations for words outside the dictionary: espeak-ng speaks them as IPA, and the
phonecodes library converts IPA to ARPAbet (after folding espeak's own symbols)."""

from __future__ import annotations

import re
import shutil
import subprocess

from phonecodes import phonecodes

__all__ = ["EspeakG2P"]

# The 39 ARPAbet phones of the CMU dictionary, longest first for tokenising.
ARPABET_PHONES = "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH"  # noqa: E501
ARPABET = sorted(ARPABET_PHONES.split(" "), key=len, reverse=True)
# espeak-ng writes some sounds with symbols the converter does not know; fold them first.
ESPEAK_FOLDS = {
    "\u200d": "", "ˈ": "", "ˌ": "", "ː": "", "ɐ": "ʌ", "ᵻ": "ɪ", "ɾ": "d", "ɚ": "ɝ", "ɬ": "l",
    "ʔ": "", "r": "ɹ", "e": "eɪ", "o": "oʊ", "ɜ": "ɝ", "ɒ": "ɑ", "x": "k", "ç": "h",
}  # fmt: skip
TIMEOUT_SECONDS = 30


def ipa_to_arpabet(ipa: str) -> list[str]:
    for symbol, replacement in ESPEAK_FOLDS.items():
        ipa = ipa.replace(symbol, replacement)
    ipa = ipa.replace("eɪɪ", "eɪ").replace("oʊʊ", "oʊ")  # folding may double a glide
    converted = re.sub(r"[0-9]", "", phonecodes.ipa2arpabet(ipa, "eng"))
    phones: list[str] = []
    rest = converted
    while rest:
        match = next((p for p in ARPABET if rest.startswith(p)), None)
        if match is None:  # a sound ARPAbet has no symbol for: skip it rather than fail
            rest = rest[1:]
            continue
        phones.append(match)
        rest = rest[len(match) :]
    return phones


class EspeakG2P:
    def __init__(self, voice: str = "en-us", binary: str = "espeak-ng") -> None:
        self._voice = voice
        self._binary = shutil.which(binary)

    @property
    def available(self) -> bool:
        return self._binary is not None

    def pronounce(self, words: list[str]) -> dict[str, list[str]]:
        """ARPAbet phones for each word that espeak-ng could speak (one call for all)."""
        if not self._binary or not words:
            return {}
        spoken = subprocess.run(  # noqa: S603 (our argv; words go in on stdin)
            [self._binary, "-q", "-v", self._voice, "--ipa=3"],
            input="".join(f"{w}.\n" for w in words),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        lines = [line.strip() for line in spoken.stdout.splitlines() if line.strip()]
        if spoken.returncode != 0 or len(lines) != len(words):
            return {}
        pronunciations = {w: ipa_to_arpabet(ipa) for w, ipa in zip(words, lines, strict=True)}
        return {w: phones for w, phones in pronunciations.items() if phones}
