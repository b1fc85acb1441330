from __future__ import annotations

import io
import wave

import pytest

from gateway_service.adapters.wav import NotCanonicalWav, parse_header, segment_range, wav_bytes
from gateway_service.domain.jobs import FileStatus, JobStatus, advance, advance_file
from gateway_service.domain.pairing import PairingError, pair_by_stem, stem_of


def test_pairs_match_by_stem_whatever_the_order() -> None:
    pairs = pair_by_stem(["b.wav", "spk1/a.flac"], ["spk1/a.txt", "b.lab"])
    assert [(p.stem, p.audio_index, p.text_index) for p in pairs] == [("b", 0, 1), ("spk1/a", 1, 0)]
    assert stem_of("x.y.wav") == "x.y" and stem_of("noext") == "noext"


def test_unmatched_and_duplicate_stems_are_named() -> None:
    with pytest.raises(PairingError) as unmatched:
        pair_by_stem(["a.wav", "b.wav"], ["a.txt", "c.txt"])
    assert unmatched.value.details == {
        "audio_without_text": ["b.wav"],
        "text_without_audio": ["c.txt"],
    }
    with pytest.raises(PairingError, match="share the stem 'a'"):
        pair_by_stem(["a.wav", "a.mp3"], ["a.txt"])


def test_states_never_move_backwards() -> None:
    assert advance(JobStatus.PENDING, JobStatus.PROCESSING) is JobStatus.PROCESSING
    assert (
        advance(JobStatus.COMPLETED, JobStatus.PROCESSING) is JobStatus.COMPLETED
    )  # late progress
    assert advance(JobStatus.COMPLETED, JobStatus.EXPIRED) is JobStatus.EXPIRED
    assert advance_file(FileStatus.ALIGNED, FileStatus.STORED) is FileStatus.ALIGNED
    assert advance_file(FileStatus.REJECTED, FileStatus.EXPIRED) is FileStatus.EXPIRED


def _wav(frames: int, extra_chunk: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(bytes(2 * frames))
    data = buffer.getvalue()
    return data[:12] + extra_chunk + data[12:] if extra_chunk else data


def test_segments_are_cut_on_sample_boundaries() -> None:
    layout = parse_header(_wav(48000))
    assert (layout.data_offset, layout.duration) == (44, 3.0)
    offset, length = segment_range(layout, 0.5, 1.25)
    assert (offset, length) == (44 + 8000 * 2, 12000 * 2)
    with wave.open(io.BytesIO(wav_bytes(layout, bytes(length)))) as cut:
        assert cut.getnframes() / cut.getframerate() == 0.75


def test_headers_with_extra_chunks_are_walked() -> None:
    listed = _wav(100, extra_chunk=b"LIST\x04\x00\x00\x00INFO")
    assert parse_header(listed).data_offset == 44 + 12
    with pytest.raises(NotCanonicalWav):
        parse_header(b"ID3\x03not a wav at all")
