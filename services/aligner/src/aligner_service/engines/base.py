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

    def align(self, pcm16k: bytes, words: list[str]) -> EngineOutput:
        """Align 16 kHz mono 16-bit PCM with known words; blocking, CPU-bound."""
