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
