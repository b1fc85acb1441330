"""A job's own pronunciation dictionary, in Montreal Forced Aligner's format: one word a
line, then its phones (``tomato T AH M EY T OW``), separated by spaces or tabs. MFA's
optional probability columns after the word are skipped, a CMU-style variant mark
(``tomato(2)``) is dropped, and ``;;;`` or ``#`` lines are comments. For English the phones
are ARPAbet (stress digits allowed and ignored). A word listed twice keeps its first
pronunciation. Plain Python."""

from __future__ import annotations

import re
import unicodedata

from servicekit.errors import DomainError

__all__ = [
    "ARPABET",
    "MAX_DICTIONARY_BYTES",
    "DictionaryNotSupported",
    "InvalidDictionary",
    "parse_dictionary",
]

MAX_DICTIONARY_BYTES = 1 << 20
MAX_ENTRIES = 20_000
MAX_WORD_CHARS = 64
MAX_PHONES = 40
MAX_REPORTED = 20

# The 39 phones of the CMU dictionary (what PocketSphinx's English model knows).
ARPABET_PHONES = "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH"  # noqa: E501
ARPABET = frozenset(ARPABET_PHONES.split(" "))
VARIANT = re.compile(r"\(\d+\)$")
NUMBER = re.compile(r"^\d+(\.\d+)?$")
STRESS = re.compile(r"[012]$")


class InvalidDictionary(DomainError):
    code = "invalid_dictionary"


class DictionaryNotSupported(DomainError):
    code = "dictionary_not_supported"


def parse_dictionary(data: bytes, *, arpabet: bool) -> dict[str, list[str]]:
    """Word (lower case) -> phones; refuses the whole file, naming the lines (at most 20)
    that are wrong, rather than align with part of it."""
    if len(data) > MAX_DICTIONARY_BYTES:
        raise InvalidDictionary(f"the dictionary is larger than {MAX_DICTIONARY_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDictionary("the dictionary is not UTF-8 text") from exc
    entries: dict[str, list[str]] = {}
    problems: list[dict[str, object]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith((";;;", "#")):
            continue
        parsed = _entry(line, arpabet)
        if isinstance(parsed, str):
            problems.append({"line": number, "error": parsed})
            if len(problems) >= MAX_REPORTED:
                break
            continue
        word, phones = parsed
        entries.setdefault(word, phones)
    if problems:
        raise InvalidDictionary(
            f"{len(problems)}{'+' if len(problems) >= MAX_REPORTED else ''} line(s) of the "
            f"dictionary are not 'WORD PHONE PHONE ...' (line {problems[0]['line']}: "
            f"{problems[0]['error']})",
            lines=problems,
        )
    if not entries:
        raise InvalidDictionary("the dictionary has no entries")
    if len(entries) > MAX_ENTRIES:
        raise InvalidDictionary(f"the dictionary has more than {MAX_ENTRIES} words")
    return entries


def _entry(line: str, arpabet: bool) -> tuple[str, list[str]] | str:
    """The line's word and phones, or what is wrong with it."""
    word, *rest = line.split()
    word = VARIANT.sub("", unicodedata.normalize("NFC", word).lower().replace("\u2019", "'"))
    if not word or len(word) > MAX_WORD_CHARS:
        return f"a word must have 1 to {MAX_WORD_CHARS} characters"
    while rest and NUMBER.fullmatch(rest[0]):  # MFA's probability columns
        rest = rest[1:]
    if not rest:
        return f"'{word}' has no phones"
    if len(rest) > MAX_PHONES:
        return f"'{word}' has more than {MAX_PHONES} phones"
    if not arpabet:
        return word, rest
    phones = [STRESS.sub("", p.upper()) for p in rest]
    unknown = [p for p, plain in zip(rest, phones, strict=True) if plain not in ARPABET]
    if unknown:
        return f"'{word}': {', '.join(unknown[:5])} not ARPAbet"
    return word, phones
