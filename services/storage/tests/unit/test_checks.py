from __future__ import annotations

import pytest

from storage_service.domain.checks import PairRejected, check_audio_header, check_transcript


def test_transcripts_are_normalised_utf8() -> None:
    assert check_transcript(b"\xef\xbb\xbfHello\r\nworld  ", "t", 100) == "Hello\nworld\n"
    assert check_transcript("Caf\u0065\u0301".encode(), "t", 100) == "Caf\u00e9\n"  # NFC


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "text_empty"),
        (b" ... !! \n", "text_empty"),
        (b"caf\xe9", "text_not_utf8"),
        (b"hello\x00world", "text_binary"),
        (b"\x89PNG\r\n\x1a\n" + bytes(20), "text_not_text"),
        (b"x" * 101, "text_too_large"),
        (b"<html><body>hello</body></html>", "text_not_text"),
        (b"#!/usr/bin/env python\nprint(1)", "text_not_text"),
        (b"ID3\x03\x00\x00\x00" + bytes(40), "text_not_text"),
    ],
)
def test_bad_transcripts_are_refused_with_a_code(raw: bytes, code: str) -> None:
    with pytest.raises(PairRejected) as refused:
        check_transcript(raw, "text_files[0] 'a.txt'", 100)
    assert refused.value.code == code
    assert refused.value.reason.startswith("text_files[0] 'a.txt'")


def test_audio_headers_of_other_kinds_are_refused() -> None:
    check_audio_header(b"RIFF\x24\x00\x00\x00WAVEfmt ", "a")  # audio passes
    check_audio_header(b"plain text is left to the decoder", "a")
    for header in (
        b"PK\x03\x04" + bytes(30),
        b"\x7fELF" + bytes(30),
        b"%PDF-1.4" + bytes(30),
        b"MZ" + bytes(60),
        b"<!DOCTYPE html><html>",
        b"#!/bin/sh\nrm -rf /",
    ):
        with pytest.raises(PairRejected) as refused:
            check_audio_header(header, "audio_files[0] 'a.wav'")
        assert refused.value.code == "audio_not_audio"
