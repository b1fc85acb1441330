"""Audio and transcript files pair up by stem, as in an MFA corpus."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

__all__ = ["Pair", "PairingError", "clean_name", "pair_by_stem", "stem_of"]

AUDIO_SUFFIXES = frozenset(
    {
        ".wav",
        ".flac",
        ".mp3",
        ".ogg",
        ".opus",
        ".m4a",
        ".mp4",
        ".aac",
        ".aif",
        ".aiff",
        ".webm",
        ".wma",
        ".caf",
    }
)
DRIVE = re.compile(r"^[A-Za-z]:")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PairingError(Exception):
    def __init__(self, message: str, details: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class Pair:
    stem: str
    audio_index: int
    text_index: int


def stem_of(filename: str) -> str:
    """'speaker1/utt01.wav' -> 'speaker1/utt01' (speaker folders are part of the stem)."""
    path = PurePosixPath(filename.replace("\\", "/"))
    return str(path.with_suffix("")) if path.suffix else str(path)


def clean_name(filename: str, limit: int = 512) -> str:
    """A file name as a client sent it, made a safe relative path that keeps its folders:
    '../spk1\\utt1.wav' -> 'spk1/utt1.wav' (no drive, no empty, '.' or '..' parts, no
    control characters). Empty when nothing is left."""
    name = CONTROL.sub("", filename).replace("\\", "/")
    name = DRIVE.sub("", name)
    parts = [p.strip() for p in name.split("/")]
    return "/".join(p for p in parts if p not in ("", ".", ".."))[:limit]


def pair_by_stem(audio_names: list[str], text_names: list[str]) -> list[Pair]:
    audio = _index(audio_names, "audio")
    text = _index(text_names, "text")
    unmatched_audio = sorted(audio_names[i] for s, i in audio.items() if s not in text)
    unmatched_text = sorted(text_names[i] for s, i in text.items() if s not in audio)
    if unmatched_audio or unmatched_text:
        raise PairingError(
            "every audio file needs a transcript with the same name (stem), and back",
            {"audio_without_text": unmatched_audio, "text_without_audio": unmatched_text},
        )
    return [Pair(stem, audio[stem], text[stem]) for stem in sorted(audio, key=audio.__getitem__)]


def _index(names: list[str], kind: str) -> dict[str, int]:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        stem = stem_of(name)
        if stem in seen:
            raise PairingError(
                f"two {kind} files share the stem '{stem}'",
                {f"duplicate_{kind}": [names[seen[stem]], name]},
            )
        seen[stem] = i
    return seen
