"""Storing one pair: its upload checked by content, the audio converted to 16 kHz mono WAV,
both written where the corpus file lives. Slow (a download, ffmpeg, an upload): the caller
holds no transaction meanwhile."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from contracts import SubmittedPair
from servicekit.objects import ObjectMissing, Objects
from storage_service.adapters.audio import AudioConverter
from storage_service.domain.checks import (
    PairRejected,
    TextLimits,
    check_audio_header,
    check_transcript,
)
from storage_service.domain.ingests import StoredPair
from storage_service.domain.keys import audio_key, text_key

__all__ = ["IngestLimits", "PairStorer"]


@dataclass(frozen=True)
class IngestLimits:
    max_audio_seconds: float
    max_text_bytes: int
    max_text_lines: int
    max_text_line_chars: int


class PairStorer:
    def __init__(self, objects: Objects, converter: AudioConverter, limits: IngestLimits) -> None:
        self._objects = objects
        self._converter = converter
        self._limits = limits
        self._text_limits = TextLimits(
            limits.max_text_bytes, limits.max_text_lines, limits.max_text_line_chars
        )

    async def store(self, user_id: UUID, job_id: UUID, pair: SubmittedPair) -> StoredPair:
        """The pair stored under its corpus keys; raises PairRejected with a reason for
        the user when its content cannot be stored."""
        with tempfile.TemporaryDirectory(prefix="ingest-") as scratch:
            return await self._store(user_id, job_id, pair, Path(scratch))

    async def _store(
        self, user_id: UUID, job_id: UUID, pair: SubmittedPair, scratch: Path
    ) -> StoredPair:
        audio_label = f"audio_files[{pair.index}] '{pair.audio_name}'"
        text_label = f"text_files[{pair.index}] '{pair.text_name}'"
        source, wav, text_path = (scratch / f"{pair.index}.{n}" for n in ("in", "wav", "txt"))
        try:
            await self._objects.download(pair.audio_key, source)
            await self._objects.download(pair.text_key, text_path)
        except ObjectMissing as exc:
            raise PairRejected("upload_missing", f"{audio_label}: the upload was lost") from exc
        with source.open("rb") as head:
            check_audio_header(head.read(8192), audio_label)
        text = check_transcript(text_path.read_bytes(), text_label, self._text_limits)
        duration = await self._converter.to_canonical_wav(source, wav, audio_label)
        if duration > self._limits.max_audio_seconds:
            raise PairRejected(
                "audio_too_long",
                f"{audio_label} lasts {duration:.0f} s; the limit is "
                f"{self._limits.max_audio_seconds:.0f} s",
            )
        text_path.write_text(text, encoding="utf-8")
        await self._objects.upload(audio_key(user_id, job_id, pair.file_id), wav, "audio/wav")
        await self._objects.upload(
            text_key(user_id, job_id, pair.file_id), text_path, "text/plain; charset=utf-8"
        )
        return StoredPair(
            duration_seconds=duration,
            audio_bytes=wav.stat().st_size,
            text_bytes=text_path.stat().st_size,
            audio_sha256=_sha256(wav),
            text_sha256=_sha256(text_path),
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
