"""The storage service's metrics: pairs refused, by reason."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["FILES_REJECTED", "FILES_STORED"]

FILES_REJECTED = Counter(
    "files_rejected_total",
    "Pairs storage refused, by reason (the FileRejection code: audio_not_audio, "
    "audio_too_long, text_not_utf8, ... cancelled, storage_error)",
    ["reason"],
)
FILES_STORED = Counter("files_stored_total", "Pairs stored (validated and converted)")
