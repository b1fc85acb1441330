"""Content checks of an uploaded pair. The name of a file proves nothing: bytes do."""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass

import filetype

__all__ = ["PairRejected", "TextLimits", "check_audio_header", "check_transcript"]

# Text that a person typed may hold tabs and newlines, but no other control characters.
ALLOWED_CONTROLS = frozenset("\t\n\r")


@dataclass(frozen=True)
class TextLimits:
    """How much transcript one pair may carry: bytes as uploaded; lines and characters per
    line as counted after newlines are normalised (blank lines count). Set in settings."""

    max_bytes: int
    max_lines: int
    max_line_chars: int


class PairRejected(Exception):
    """One pair cannot be stored; ``reason`` is written for the user."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# What filetype does not recognise but must never pass as speech or a transcript.
_SIGNATURES = (
    (b"\x7felf", "an executable"),  # compared lower-cased
    (b"#!", "a script"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<script", "a script"),
    (b"<?php", "a script"),
)


def sniff(head: bytes) -> tuple[str, str] | None:
    """What the bytes are, if they are a known non-media kind: (description, mime)."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    for signature, description in _SIGNATURES:
        if start.startswith(signature):
            return description, "application/octet-stream"
    kind = filetype.guess(head)
    if kind is not None and not kind.mime.startswith(("audio/", "video/")):
        return f"a {kind.extension} file", kind.mime
    return None


def check_audio_header(head: bytes, label: str) -> None:
    """Refuse files whose magic bytes say they are something else than audio or video."""
    found = sniff(head)
    if found is not None:
        raise PairRejected("audio_not_audio", f"{label} is {found[0]}, not audio")


def check_transcript(raw: bytes, label: str, limits: TextLimits) -> str:
    """The transcript as text: UTF-8 (a BOM is allowed), not binary, not empty, in limits."""
    if len(raw) > limits.max_bytes:
        raise PairRejected("text_too_large", f"{label} is larger than {limits.max_bytes} bytes")
    found = sniff(raw[:8192])
    if found is not None or filetype.guess(raw[:8192]) is not None:
        what = found[0] if found else "a media file"
        raise PairRejected("text_not_text", f"{label} is {what}, not a transcript")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PairRejected(
            "text_not_utf8",
            f"{label} is not UTF-8 text (invalid byte at position {exc.start}); "
            "save it as UTF-8 and upload it again",
        ) from exc
    if any(unicodedata.category(c) == "Cc" and c not in ALLOWED_CONTROLS for c in text):
        raise PairRejected("text_binary", f"{label} contains control characters: is it text?")
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    _check_lines(text, label, limits)
    text = text.strip()
    if not any(c.isalnum() for c in text):
        raise PairRejected("text_empty", f"{label} has no words to align")
    return text + "\n"


def _check_lines(text: str, label: str, limits: TextLimits) -> None:
    """Line numbers are the user's: counted before the text is stripped."""
    lines = text.split("\n")
    if lines[-1] == "":  # a final newline ends the last line; it does not start another
        lines.pop()
    if len(lines) > limits.max_lines:
        raise PairRejected(
            "text_too_many_lines",
            f"{label} has {len(lines)} lines; the limit is {limits.max_lines}",
        )
    for number, line in enumerate(lines, start=1):
        if len(line) > limits.max_line_chars:
            raise PairRejected(
                "text_line_too_long",
                f"line {number} of {label} has {len(line)} characters; "
                f"the limit is {limits.max_line_chars}",
            )
