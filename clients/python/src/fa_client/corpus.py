"""A corpus folder as Montreal Forced Aligner lays it out: audio files with a transcript
of the same name (``.txt`` or ``.lab``) beside them, speaker folders allowed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = [
    "AUDIO_SUFFIXES",
    "RESULT_SUFFIXES",
    "TEXT_SUFFIXES",
    "Corpus",
    "Pair",
    "batches",
    "scan",
]

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
TEXT_SUFFIXES = (".txt", ".lab")
RESULT_SUFFIXES = {
    "textgrid": ".TextGrid",
    "json": ".json",
    "csv": ".csv",
    "srt": ".srt",
    "vtt": ".vtt",
}


@dataclass(frozen=True)
class Pair:
    stem: str  # relative, with folders, POSIX separators: "speaker1/utt1"
    audio: Path
    text: Path

    @property
    def audio_name(self) -> str:
        return self.stem + self.audio.suffix.lower()

    @property
    def text_name(self) -> str:
        return self.stem + self.text.suffix.lower()

    @property
    def size(self) -> int:
        return self.audio.stat().st_size + self.text.stat().st_size

    def outputs(self, root: Path, formats: Iterable[str]) -> list[Path]:
        return [root / (self.stem + RESULT_SUFFIXES[f]) for f in formats]


@dataclass
class Corpus:
    root: Path
    pairs: list[Pair] = field(default_factory=list)
    audio_without_text: list[str] = field(default_factory=list)
    text_without_audio: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)  # two audio files (or texts) per stem
    ignored: list[str] = field(default_factory=list)  # neither audio nor transcript

    @property
    def problems(self) -> int:
        return len(self.audio_without_text) + len(self.text_without_audio) + len(self.ambiguous)


def scan(root: Path) -> Corpus:
    corpus = Corpus(root)
    audio: dict[str, list[Path]] = {}
    text: dict[str, list[Path]] = {}
    for path in sorted(_files(root)):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        suffix = relative.suffix.lower()
        stem = str(relative.with_suffix(""))
        if suffix in AUDIO_SUFFIXES:
            audio.setdefault(stem, []).append(path)
        elif suffix in TEXT_SUFFIXES:
            text.setdefault(stem, []).append(path)
        else:
            corpus.ignored.append(str(relative))
    for stem in sorted(audio.keys() | text.keys()):
        sounds, texts = audio.get(stem, []), text.get(stem, [])
        if len(sounds) > 1 or len(texts) > 1:
            corpus.ambiguous += [_rel(root, p) for p in sounds + texts]
        elif not texts:
            corpus.audio_without_text.append(_rel(root, sounds[0]))
        elif not sounds:
            corpus.text_without_audio.append(_rel(root, texts[0]))
        else:
            corpus.pairs.append(Pair(stem, sounds[0], texts[0]))
    return corpus


def batches(pairs: list[Pair], max_files: int, max_bytes: int) -> Iterator[list[Pair]]:
    """Consecutive groups that each fit in one job (files and bytes); a pair over the byte
    limit alone goes alone (the service then says why it refuses it)."""
    batch: list[Pair] = []
    size = 0
    for pair in pairs:
        if batch and (len(batch) >= max_files or size + pair.size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(pair)
        size += pair.size
    if batch:
        yield batch


def _files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and not _hidden(path.relative_to(root)):
            yield path


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.parts)


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()
