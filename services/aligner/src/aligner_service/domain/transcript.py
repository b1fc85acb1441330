"""Words of a transcript, as written and as an engine looks them up."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Token", "tokenize"]

# Letters and digits, with apostrophes or hyphens inside a word ("don't", "well-known").
RIGHT_QUOTE = "\u2019"  # typographic apostrophe, as in "don\u2019t"
WORD = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")


@dataclass(frozen=True)
class Token:
    text: str  # as written
    key: str  # lower-cased, straight apostrophes: what dictionaries hold


def tokenize(transcript: str) -> list[Token]:
    text = unicodedata.normalize("NFC", transcript)
    return [
        Token(m.group(0), m.group(0).lower().replace(RIGHT_QUOTE, "'")) for m in WORD.finditer(text)
    ]
