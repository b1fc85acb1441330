"""What the aligner says about its engines besides what they are: the names of the
languages they align, and their measured accuracy.

The figures are measured, not assumed: each is a row of docs/benchmarks.md (``make bench``
on the development machine, 2 cores), copied here with the set it was measured on. Change
them when the benchmark is run again; an engine nobody measured here has none.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from contracts import AccuracyFigure

__all__ = ["ACCURACY", "display_name", "espeak_language_names"]

SOURCE = "docs/benchmarks.md (make bench)"
MEASURED_ON = "2026-11-30, development machine (2 cores), TIMIT audio repaired"


def _figure(
    dataset: str,
    mean: float,
    median: float,
    within: dict[int, float],
    measure: str = "word boundaries",
) -> AccuracyFigure:
    return AccuracyFigure(
        dataset=dataset,
        measure=measure,
        mean_error_ms=mean,
        median_error_ms=median,
        within_ms=within,
        source=SOURCE,
        measured_on=MEASURED_ON,
    )


ACCURACY: dict[str, list[AccuracyFigure]] = {
    "pocketsphinx": [
        _figure("TIMIT (gold, 76 files)", 17.8, 10.4, {10: 49, 20: 71, 25: 77, 50: 93, 100: 99}),
        _figure(
            "TIMIT (gold, 76 files)",
            14.3,
            7.9,
            {10: 57, 20: 78, 25: 84, 50: 96, 100: 99},
            measure="phone boundaries (39-phone set)",
        ),
        _figure("praatio (gold, 3 files)", 19.6, 13.6, {10: 33, 20: 62, 25: 71, 50: 92, 100: 100}),
        _figure(
            "LibriSpeech (silver, 1 file)", 16.5, 12.5, {10: 44, 20: 79, 25: 82, 50: 94, 100: 100}
        ),
    ],
    "tts-dtw": [
        _figure("TIMIT (gold, 76 files)", 48.0, 29.5, {10: 21, 20: 37, 25: 45, 50: 69, 100: 89}),
        _figure("praatio (gold, 3 files)", 33.8, 18.6, {10: 29, 20: 50, 25: 62, 50: 92, 100: 96}),
        _figure(
            "German, EMU-webApp (silver, 1 file)",
            31.0,
            25.0,
            {10: 20, 20: 50, 25: 50, 50: 80, 100: 100},
        ),
        _figure(
            "French, SPPAS spontaneous (silver, 3 files)",
            69.7,
            40.0,
            {10: 15, 20: 24, 25: 34, 50: 53, 100: 75},
        ),
        _figure("synthetic German (13 words)", 69.9, 42.3, {10: 38, 25: 50, 50: 50, 100: 65}),
        _figure("synthetic French (14 words)", 49.7, 21.8, {10: 36, 25: 54, 50: 75, 100: 82}),
        _figure("synthetic Spanish (15 words)", 51.3, 16.3, {10: 37, 25: 60, 50: 70, 100: 77}),
    ],
    # The English model with espeak-ng's pronunciations mapped onto its phones; measured on
    # the non-English sets only (English has PocketSphinx's own dictionary).
    "espeak-phones": [
        _figure(
            "Czech, Greek, Basque isolated words, VoxAngeles (gold, 15 files, IPA transcripts)",
            21.2,
            10.0,
            {10: 43, 20: 57, 25: 63, 50: 90, 100: 100},
        ),
        _figure(
            "Czech, Greek, Basque isolated words, VoxAngeles (gold, 15 files, IPA transcripts)",
            15.2,
            9.8,
            {10: 51, 20: 79, 25: 83, 50: 94, 100: 100},
            measure="phone boundaries (in the model's phone classes)",
        ),
        _figure(
            "German, EMU-webApp (silver, 1 file)",
            17.8,
            10.0,
            {10: 40, 20: 70, 25: 90, 50: 90, 100: 100},
        ),
        _figure(
            "French, SPPAS spontaneous (silver, 3 files)",
            32.7,
            20.0,
            {10: 34, 20: 48, 25: 59, 50: 80, 100: 93},
        ),
        _figure(
            "Taiwanese Southern Min, SPPAS (gold, 2 of 3 files aligned)",
            35.7,
            26.1,
            {10: 22, 20: 47, 25: 48, 50: 83, 100: 92},
        ),
    ],
    # Montreal Forced Aligner: not measured on this platform (no MFA on the bench machine).
}

VOICE_LINE = re.compile(r"^\s*\d+\s+(\S+)\s+\S+\s+(\S+)")


def espeak_language_names(binary: str = "espeak-ng") -> dict[str, str]:
    """Language code (lower case) -> English name, from espeak-ng's list of voices; empty
    when espeak-ng is not installed."""
    found = shutil.which(binary)
    if found is None:
        return {}
    try:
        listed = subprocess.run(  # noqa: S603 (our own argv)
            [found, "--voices"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return parse_voices(listed)


def parse_voices(listing: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for line in listing.splitlines()[1:]:
        match = VOICE_LINE.match(line)
        if match:
            code, name = match.group(1).lower(), match.group(2).replace("_", " ").strip()
            names.setdefault(code, name)
    return names


def display_name(code: str, names: dict[str, str]) -> str:
    """The language's name: espeak-ng's, or for a bare code such as 'en' (which espeak-ng
    lists only as 'en-us', 'en-gb'...) the name of its first variant without the variant."""
    code = code.lower()
    if code in names:
        return names[code]
    for known in sorted(names):
        if known.split("-")[0] == code:
            return re.sub(r"\s*\(.*\)\s*$", "", names[known]) or code
    return code
