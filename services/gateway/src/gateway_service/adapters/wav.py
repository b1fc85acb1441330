"""Cutting spans out of the canonical WAV files (16 kHz mono 16-bit PCM) with range reads."""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass

__all__ = [
    "HEADER_PROBE_BYTES",
    "NotCanonicalWav",
    "WavLayout",
    "parse_header",
    "segment_range",
    "wav_bytes",
    "wav_header",
]

HEADER_PROBE_BYTES = 4096


class NotCanonicalWav(Exception):
    pass


@dataclass(frozen=True)
class WavLayout:
    sample_rate: int
    channels: int
    sample_width: int
    data_offset: int
    data_size: int

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.sample_width

    @property
    def duration(self) -> float:
        return self.data_size / self.frame_bytes / self.sample_rate


def parse_header(head: bytes) -> WavLayout:
    """Walk the RIFF chunks up to ``data`` (headers may carry LIST or other chunks)."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise NotCanonicalWav("not a RIFF/WAVE file")
    offset, fmt = 12, None
    while offset + 8 <= len(head):
        chunk_id, size = (
            head[offset : offset + 4],
            struct.unpack("<I", head[offset + 4 : offset + 8])[0],
        )
        body = offset + 8
        if chunk_id == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", head[body : body + 16])
            fmt = (rate, channels, bits // 8)
        elif chunk_id == b"data":
            if fmt is None:
                raise NotCanonicalWav("data before fmt")
            return WavLayout(fmt[0], fmt[1], fmt[2], body, size)
        offset = body + size + (size & 1)
    raise NotCanonicalWav("no data chunk in the header")


def segment_range(layout: WavLayout, start: float, end: float) -> tuple[int, int]:
    """Byte offset and length of the frames from ``start`` to ``end`` seconds."""
    first = round(start * layout.sample_rate)
    last = round(end * layout.sample_rate)
    return layout.data_offset + first * layout.frame_bytes, (last - first) * layout.frame_bytes


def wav_header(layout: WavLayout, data_size: int) -> bytes:
    """The 44-byte header ``wav_bytes`` writes for ``data_size`` bytes of frames, for
    sending the frames after it as they come."""
    byte_rate = layout.sample_rate * layout.frame_bytes
    return (
        struct.pack("<4sI4s", b"RIFF", 36 + data_size, b"WAVE")
        + struct.pack(
            "<4sIHHIIHH",
            b"fmt ",
            16,
            1,  # PCM
            layout.channels,
            layout.sample_rate,
            byte_rate,
            layout.frame_bytes,
            layout.sample_width * 8,
        )
        + struct.pack("<4sI", b"data", data_size)
    )


def wav_bytes(layout: WavLayout, frames: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(layout.channels)
        out.setsampwidth(layout.sample_width)
        out.setframerate(layout.sample_rate)
        out.writeframes(frames)
    return buffer.getvalue()
