"""Decoding and conversion with ffmpeg, to 16 kHz mono 16-bit PCM WAV; a WAV that is that
already is kept as it is (ffmpeg would cost about 50 ms of CPU to copy it)."""

from __future__ import annotations

import asyncio
import os
import wave
from pathlib import Path

from storage_service.domain.checks import PairRejected

__all__ = ["CANONICAL_RATE", "AudioConverter"]

CANONICAL_RATE = 16_000
# Only real audio containers: no playlists or concat lists that could read other files.
DEMUXERS = "wav,w64,flac,mp3,ogg,mov,m4a,mp4,matroska,webm,aac,aiff,caf,opus"
MAX_STDERR = 2000


class AudioConverter:
    def __init__(self, ffmpeg: str = "ffmpeg", timeout_seconds: float = 1800) -> None:
        self._ffmpeg = ffmpeg
        self._timeout = timeout_seconds

    async def to_canonical_wav(self, source: Path, target: Path, label: str) -> float:
        """Convert (or move ``source`` to ``target`` if it is canonical already); returns the
        duration in seconds. Raises PairRejected if undecodable."""
        frames = await asyncio.to_thread(canonical_frames, source)
        if frames is None:
            await self._convert(source, target, label)
            frames = await asyncio.to_thread(_frame_count, target)
        else:
            os.replace(source, target)
        if frames == 0:
            raise PairRejected("audio_empty", f"{label} holds no audio samples")
        return frames / CANONICAL_RATE

    async def _convert(self, source: Path, target: Path, label: str) -> None:
        command = [
            self._ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-v",
            "error",
            "-protocol_whitelist",
            "file",
            "-format_whitelist",
            DEMUXERS,
            "-i",
            str(source),
            "-map",
            "0:a:0",
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(CANONICAL_RATE),
            "-c:a",
            "pcm_s16le",
            "-map_metadata",
            "-1",
            "-fflags",
            "+bitexact",
            "-f",
            "wav",
            "-y",
            str(target),
        ]
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            await asyncio.wait_for(process.communicate(), self._timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise PairRejected("audio_timeout", f"{label} took too long to decode") from None
        if process.returncode != 0:
            raise PairRejected("audio_undecodable", f"{label} could not be decoded as audio")


def canonical_frames(path: Path) -> int | None:
    """The number of frames of a WAV that is 16 kHz mono 16-bit PCM and whole (every frame
    its header declares is there); None for anything else, which ffmpeg then converts."""
    try:
        with wave.open(str(path), "rb") as wav:
            if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (
                CANONICAL_RATE,
                1,
                2,
            ):
                return None
            declared = wav.getnframes()
            present = 0
            while block := wav.readframes(1 << 16):  # a truncated file ends early
                present += len(block) // 2
    except (wave.Error, EOFError, OSError):  # not PCM WAV (compressed, extensible, broken)
        return None
    return declared if present == declared else None


def _frame_count(wav_path: Path) -> int:
    with wave.open(str(wav_path), "rb") as wav:
        return wav.getnframes()
