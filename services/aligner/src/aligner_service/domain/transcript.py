"""Words of a transcript, as written and as an engine looks them up."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Token", "tokenize"]

# Letters and digits, with apostrophes or hyphens inside a word ("don't", "well-known").
RIGHT_QUOTE = "\u2019"  # typographic apostrophe, as in "don\u2019t"
WORD = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")


# Sentence-final punctuation (after closing quotes) before a space or the end; "3.5" goes on.
SENTENCE_END = re.compile(r"[\"')\]\u201d\u2019]*[.!?\u2026\u3002\uff01\uff1f]+(?=[\s\"\u201d]|$)")


@dataclass(frozen=True)
class Token:
    text: str  # as written
    key: str  # lower-cased, straight apostrophes: what dictionaries hold
    sentence: int = 0  # which sentence of the transcript it belongs to


def tokenize(transcript: str) -> list[Token]:
    text = unicodedata.normalize("NFC", transcript)
    tokens: list[Token] = []
    sentence = 0
    for match in WORD.finditer(text):
        word = match.group(0)
        tokens.append(Token(word, word.lower().replace(RIGHT_QUOTE, "'"), sentence))
        if SENTENCE_END.match(text, match.end()):
            sentence += 1
    return tokens
