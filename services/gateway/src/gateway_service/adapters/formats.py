"""CSV, SRT and WebVTT, rendered from the one result model (JSON and TextGrid are stored
by the aligner). Subtitles come at word level or as sentence-level cues."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import srt
from webvtt import Caption, WebVTT

from contracts.results import AlignedWord, AlignmentResult

__all__ = ["RENDERED_FORMATS", "render"]

RENDERED_FORMATS = {
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "srt": ("application/x-subrip; charset=utf-8", ".srt"),
    "vtt": ("text/vtt; charset=utf-8", ".vtt"),
}
MAX_CUE_SECONDS = 7.0
MAX_CUE_WORDS = 14


def render(result: AlignmentResult, fmt: str, level: str, stem: str) -> bytes:
    if fmt == "csv":
        return _csv(result, stem)
    cues = _cues(result.words, sentences=level == "sentence")
    if fmt == "srt":
        subtitles = [
            srt.Subtitle(i, timedelta(seconds=start), timedelta(seconds=end), text)
            for i, (start, end, text) in enumerate(cues, start=1)
        ]
        composed: str = srt.compose(subtitles)
        return composed.encode()
    vtt = WebVTT()
    for start, end, text in cues:
        vtt.captions.append(Caption(_vtt_time(start), _vtt_time(end), text))
    return vtt.content.encode()


def _csv(result: AlignmentResult, stem: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "tier", "start", "end", "label"])
    for w in result.words:
        writer.writerow([stem, "words", f"{w.start:.3f}", f"{w.end:.3f}", w.word])
    for p in result.phones:
        writer.writerow([stem, "phones", f"{p.start:.3f}", f"{p.end:.3f}", p.phone])
    return out.getvalue().encode()


def _cues(words: list[AlignedWord], *, sentences: bool) -> list[tuple[float, float, str]]:
    if not sentences:
        return [(w.start, w.end, w.word) for w in words]
    cues: list[tuple[float, float, str]] = []
    group: list[AlignedWord] = []
    for w, following in zip(words, [*words[1:], None], strict=True):
        group.append(w)
        # A cue ends with its sentence, or earlier when it would be too long to read.
        sentence_ends = following is None or following.sentence != w.sentence
        too_long = w.end - group[0].start >= MAX_CUE_SECONDS or len(group) >= MAX_CUE_WORDS
        if sentence_ends or too_long:
            cues.append((group[0].start, w.end, " ".join(x.word for x in group)))
            group = []
    return cues


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
