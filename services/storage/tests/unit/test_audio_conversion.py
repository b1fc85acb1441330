"""The converter against real ffmpeg: canonical WAVs are kept as they are, everything else
is converted, broken input is refused with a reason."""

from __future__ import annotations

import asyncio
import io
import math
import struct
import wave
from pathlib import Path

import pytest

from storage_service.adapters.audio import AudioConverter, canonical_frames
from storage_service.domain.checks import PairRejected


def wav_bytes(rate: int, channels: int, width: int, frames: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        tone = [int(8000 * math.sin(i / 10)) for i in range(frames)]
        if width == 2:
            samples = b"".join(struct.pack("<h", s) * channels for s in tone)
        else:
            samples = bytes(((s >> 8) + 128) % 256 for s in tone for _ in range(channels))
        wav.writeframes(samples)
    return out.getvalue()


def convert(converter: AudioConverter, data: bytes, folder: Path) -> tuple[float, bytes]:
    source, target = folder / "in", folder / "out.wav"
    source.write_bytes(data)
    duration = asyncio.run(converter.to_canonical_wav(source, target, "audio_files[0] 'a'"))
    return duration, target.read_bytes()


def test_a_canonical_wav_is_kept_byte_for_byte_without_ffmpeg(tmp_path: Path) -> None:
    data = wav_bytes(16_000, 1, 2, 24_000)
    # A LIST chunk after the data, as recorders write: still canonical.
    riff = bytearray(data + b"LIST\x04\x00\x00\x00INFO")
    riff[4:8] = struct.pack("<I", len(riff) - 8)
    no_ffmpeg = AudioConverter(ffmpeg=str(tmp_path / "no-such-ffmpeg"))
    duration, stored = convert(no_ffmpeg, bytes(riff), tmp_path)
    assert duration == 1.5
    assert stored == bytes(riff)


@pytest.mark.parametrize(
    ("rate", "channels", "width"), [(44_100, 2, 2), (8_000, 1, 2), (16_000, 2, 2), (16_000, 1, 1)]
)
def test_other_pcm_wavs_are_converted_to_16k_mono_16_bit(
    tmp_path: Path, rate: int, channels: int, width: int
) -> None:
    duration, stored = convert(AudioConverter(), wav_bytes(rate, channels, width, rate), tmp_path)
    assert duration == pytest.approx(1.0, abs=0.01)
    with wave.open(io.BytesIO(stored)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)


def test_a_truncated_canonical_wav_is_not_taken_at_its_header_word(tmp_path: Path) -> None:
    data = wav_bytes(16_000, 1, 2, 16_000)
    cut = data[: len(data) - 8_000]  # the header still declares 16000 frames
    (tmp_path / "cut.wav").write_bytes(cut)
    assert canonical_frames(tmp_path / "cut.wav") is None
    duration, stored = convert(AudioConverter(), cut, tmp_path)
    assert duration == pytest.approx(0.75, abs=0.01)  # what is there, decoded by ffmpeg
    assert stored != cut


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (wav_bytes(16_000, 1, 2, 0), "audio_empty"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20, "audio_undecodable"),
        (b"not audio at all" * 100, "audio_undecodable"),
    ],
)
def test_broken_or_empty_audio_is_refused_with_a_reason(
    tmp_path: Path, data: bytes, code: str
) -> None:
    with pytest.raises(PairRejected) as refused:
        convert(AudioConverter(), data, tmp_path)
    assert refused.value.code == code
    assert "'a'" in str(refused.value)


def test_every_prefix_of_a_canonical_wav_is_kept_only_when_whole(tmp_path: Path) -> None:
    data = wav_bytes(16_000, 1, 2, 400)
    path = tmp_path / "part.wav"
    for end in range(len(data) + 1):
        path.write_bytes(data[:end])
        assert canonical_frames(path) == (400 if end == len(data) else None), end
