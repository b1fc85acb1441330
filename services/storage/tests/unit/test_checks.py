from __future__ import annotations

import pytest

from storage_service.domain.checks import (
    PairRejected,
    TextLimits,
    check_audio_header,
    check_transcript,
)

LIMITS = TextLimits(max_bytes=100, max_lines=200_000, max_line_chars=20_000)


def test_transcripts_are_normalised_utf8() -> None:
    assert check_transcript(b"\xef\xbb\xbfHello\r\nworld  ", "t", LIMITS) == "Hello\nworld\n"
    assert check_transcript("Caf\u0065\u0301".encode(), "t", LIMITS) == "Caf\u00e9\n"  # NFC


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
        check_transcript(raw, "text_files[0] 'a.txt'", LIMITS)
    assert refused.value.code == code
    assert refused.value.reason.startswith("text_files[0] 'a.txt'")


LINE_LIMITS = TextLimits(max_bytes=10_000, max_lines=5, max_line_chars=20)


@pytest.mark.parametrize(
    "raw",
    [
        b"one\n\ntwo\n\nthree\n",  # five lines, blank ones included
        b"one\r\n\r\ntwo\r\n\r\nthree",  # CRLF counts like LF
        b"a" * 20 + b"\n" + "\u00e9".encode() * 20,  # characters, not bytes
    ],
)
def test_transcripts_at_the_line_limits_pass(raw: bytes) -> None:
    check_transcript(raw, "t", LINE_LIMITS)


def test_one_line_too_many_is_refused_with_the_numbers() -> None:
    with pytest.raises(PairRejected) as refused:
        check_transcript(b"one\n\ntwo\n\nthree\n\n", "transcript.txt", LINE_LIMITS)
    assert refused.value.code == "text_too_many_lines"
    assert refused.value.reason == "transcript.txt has 6 lines; the limit is 5"


def test_a_line_one_character_too_long_is_refused_with_its_number() -> None:
    raw = b"hello\r\n\r\n" + "\u00e9".encode() * 21
    with pytest.raises(PairRejected) as refused:
        check_transcript(raw, "transcript.txt", LINE_LIMITS)
    assert refused.value.code == "text_line_too_long"
    assert refused.value.reason == "line 3 of transcript.txt has 21 characters; the limit is 20"


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
