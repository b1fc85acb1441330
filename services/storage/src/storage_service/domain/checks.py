"""Content checks of an uploaded pair. The name of a file proves nothing: bytes do."""

from __future__ import annotations

import codecs
import unicodedata

import filetype

__all__ = ["PairRejected", "check_audio_header", "check_transcript"]

# Text that a person typed may hold tabs and newlines, but no other control characters.
ALLOWED_CONTROLS = frozenset("\t\n\r")


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


def check_transcript(raw: bytes, label: str, max_bytes: int) -> str:
    """The transcript as text: UTF-8 (a BOM is allowed), not binary, not empty."""
    if len(raw) > max_bytes:
        raise PairRejected("text_too_large", f"{label} is larger than {max_bytes} bytes")
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
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not any(c.isalnum() for c in text):
        raise PairRejected("text_empty", f"{label} has no words to align")
    return text + "\n"
