from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "Engine",
    "EngineFailed",
    "EngineOutput",
    "EngineUnavailable",
    "PhoneTiming",
    "WordTiming",
]


# Until long files are aligned in chunks, one search over a whole file must stay bounded:
# PocketSphinx needed about 840 MB for 165 s of speech, DTW grows with length times band.
MAX_UNCHUNKED_SECONDS = 180


def check_length(pcm16k: bytes) -> None:
    seconds = len(pcm16k) / 32_000
    if seconds > MAX_UNCHUNKED_SECONDS:
        raise EngineFailed(
            f"the audio lasts {seconds:.0f} s; files over {MAX_UNCHUNKED_SECONDS} s cannot be "
            "aligned yet: split the recording and its transcript into shorter pairs"
        )


class EngineUnavailable(Exception):
    """No engine of that name, or none for that language, on this worker."""


class EngineFailed(Exception):
    """The engine could not align this pair; the message is written for users."""


@dataclass(frozen=True)
class WordTiming:
    start: float
    end: float
    score: float | None = None


@dataclass(frozen=True)
class PhoneTiming:
    phone: str
    start: float
    end: float
    word_index: int | None


@dataclass
class EngineOutput:
    words: list[WordTiming]  # one per word given to align(), in order
    phones: list[PhoneTiming] = field(default_factory=list)


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


def supports(engine: Engine, language: str) -> bool:
    """'pt-BR' is served by a 'pt-br' or a 'pt' voice; 'en' by 'en' or 'en-us'."""
    wanted = language.lower()
    primary = wanted.split("-")[0]
    return any(
        code in (wanted, primary) or code.split("-")[0] == wanted for code in engine.languages
    )
