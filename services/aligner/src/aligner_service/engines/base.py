from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from contracts import language_matches

__all__ = [
    "DefinesWords",
    "Engine",
    "EngineFailed",
    "EngineOutput",
    "EngineUnavailable",
    "PhoneTiming",
    "PrefixAligner",
    "WordTiming",
]


# One search must stay bounded: PocketSphinx needed about 840 MB for 165 s of speech, DTW
# grows with length times band. Longer files are cut into pieces first (long_audio.py).
MAX_UNCHUNKED_SECONDS = 180


def check_length(pcm16k: bytes) -> None:
    seconds = len(pcm16k) / 32_000
    if seconds > MAX_UNCHUNKED_SECONDS:
        raise EngineFailed(
            f"a piece of {seconds:.0f} s is more than one search holds "
            f"({MAX_UNCHUNKED_SECONDS} s): the long file could not be cut at pauses"
        )


class EngineUnavailable(Exception):
    """No engine of that name, or none for that language, on this worker."""


class EngineFailed(Exception):
    """The engine could not align this pair; the message is written for users."""


@dataclass(frozen=True)
class WordTiming:
    start: float
    end: float
    score: float | None = None  # the engine's own score (PocketSphinx: seg().prob, near 1.0)
    confidence: float | None = None  # calibrated 0-1 (domain/confidence.py)
    evidence: float | None = None  # what the confidence was calibrated from (nats/frame)


@dataclass(frozen=True)
class PhoneTiming:
    phone: str
    start: float
    end: float
    word_index: int | None
    confidence: float | None = None
    evidence: float | None = None


@dataclass
class EngineOutput:
    words: list[WordTiming]  # one per word given to align(), in order
    phones: list[PhoneTiming] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the quality summary
    coarse_words: int = 0  # words placed only by a coarse pass (no exact search)


class Engine(Protocol):
    name: str
    languages: tuple[str, ...]
    outputs_phones: bool

    def knows(self, word: str) -> bool:
        """Whether the engine has a pronunciation for this (lower-cased) word."""

    def learn(self, words: list[str]) -> list[str]:
        """Find pronunciations for unknown words where it can; returns those it learnt."""

    def align(self, pcm16k: bytes, words: list[str], language: str) -> EngineOutput:
        """Align 16 kHz mono 16-bit PCM with known words; blocking, CPU-bound."""


@runtime_checkable
class PrefixAligner(Protocol):
    """An engine that can align a piece whose transcript is known only roughly at its end."""

    def align_prefix(
        self, pcm16k: bytes, words: list[str], language: str, min_words: int
    ) -> EngineOutput:
        """Align the first n words, min_words <= n <= len(words), the engine choosing n."""


@runtime_checkable
class DefinesWords(Protocol):
    """An engine that takes a job's own pronunciations and says which of its words' it
    guessed (PocketSphinx: ARPAbet)."""

    def define(self, entries: dict[str, list[str]]) -> dict[str, str]:
        """Learn these pronunciations for one job without changing the word's own (other
        jobs keep theirs): word -> the name to align it under. Entries with phones the
        engine does not know are left out."""

    def guessed(self, words: list[str]) -> dict[str, list[str]]:
        """Of these words, those whose pronunciation was guessed (not in the engine's
        dictionary), with the phones in use."""


def supports(engine: Engine, language: str) -> bool:
    """'pt-BR' is served by a 'pt-br' or a 'pt' voice; 'en' by 'en' or 'en-us' (the same
    rule the gateway checks submits with)."""
    return any(language_matches(code, language) for code in engine.languages)
