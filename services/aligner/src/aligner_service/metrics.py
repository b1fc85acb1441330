"""The aligner's metrics: how long alignment takes, against the audio's own length."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["ALIGNED_FILES", "ALIGNMENT_SECONDS", "REAL_TIME_FACTOR", "observe_alignment"]

ALIGNMENT_SECONDS = Histogram(
    "alignment_seconds",
    "Wall time of the engine on one file (reading the transcript and writing results left out)",
    ["engine"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
REAL_TIME_FACTOR = Histogram(
    "alignment_real_time_factor",
    "Engine time over audio duration for one file (0.1: ten times faster than real time)",
    ["engine"],
    buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5, 10),
)
ALIGNED_FILES = Counter(
    "alignment_files_total",
    "Files the aligner finished, by outcome: aligned, failed (the engine refused or failed), "
    "unavailable (no replica has the engine)",
    ["engine", "outcome"],
)


def observe_alignment(engine: str, seconds: float, audio_seconds: float) -> None:
    ALIGNMENT_SECONDS.labels(engine).observe(seconds)
    if audio_seconds > 0:
        REAL_TIME_FACTOR.labels(engine).observe(seconds / audio_seconds)
