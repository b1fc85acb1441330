"""Systematic boundary offsets per boundary class, measured as the field should: learnt on
some speakers, applied to others (leave one TIMIT speaker out), and learnt on the sets whose
licence lets a table ship in the product (MIT, public domain, CC BY), applied to all of
TIMIT.

    python services/aligner/bench/offsets.py [--data ../shared/data/alignment-eval]
"""

from __future__ import annotations

import argparse
import json
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

from aligner_service.domain.offsets import (
    BoundaryCorrections,
    boundary_errors,
    correct_boundaries,
    learn_corrections,
)
from aligner_service.domain.refine import follow_phones
from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import PhoneTiming, WordTiming
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.evaluation import boundaries, describe, matched_items, reference_key

sys.path.insert(0, str(Path(__file__).parent))
from accuracy import reference_phones

# Sets with phone references that a shipped table may come from (see the set's README).
LICENCE_CLEAN = {"praatio": "MIT", "ljspeech": "public domain audio", "mfa_tests": "MIT"}


@dataclass
class Aligned:
    speaker: str
    keys: list[str]
    words: list[WordTiming]
    phones: list[PhoneTiming]
    want_words: list[tuple[str, float, float]]
    want_phones: list[tuple[str, float, float]]


def clean_phones(path: Path) -> list[tuple[str, float, float]]:
    """ARPAbet references (stress marks dropped); None where the set writes IPA."""
    phones = [
        (p["phone"].rstrip("012").lower(), p["start"], p["end"])
        for p in json.loads(path.read_text())
    ]
    return phones if all(label.isascii() for label, _, _ in phones) else []


def align_set(engine: PocketSphinxEngine, folder: Path) -> list[Aligned]:
    out = []
    for wav_path in sorted(folder.glob("*.wav")):
        base = wav_path.with_suffix("")
        phones_path = Path(f"{base}.phones.json")
        if not phones_path.exists():
            continue
        want_phones = (
            reference_phones(phones_path) if folder.name == "timit" else clean_phones(phones_path)
        )
        if not want_phones:
            continue
        with wave.open(str(wav_path)) as source:
            pcm = source.readframes(source.getnframes())
        tokens = tokenize(base.with_suffix(".txt").read_text(encoding="utf-8"))
        engine.learn([t.key for t in tokens])
        keys = [t.key for t in tokens if engine.knows(t.key)]
        output = engine.align(pcm, keys, "en")
        reference = json.loads(Path(f"{base}.words.json").read_text())
        want_words = [(reference_key(w["word"]), w["start"], w["end"]) for w in reference]
        speaker = wav_path.name.split("_")[0]
        out.append(Aligned(speaker, keys, output.words, output.phones, want_words, want_phones))
    return out


def matched(a: Aligned) -> list[tuple[int, float, float]]:
    got = [p.phone.lower() for p in a.phones]
    pairs = matched_items(got, [w[0] for w in a.want_phones])
    return [(i, a.want_phones[j][1], a.want_phones[j][2]) for i, j in pairs]


def measure(files: list[Aligned], tables: dict[str, BoundaryCorrections]) -> str:
    word_errors: list[float] = []
    phone_errors: list[float] = []
    for a in files:
        phones = correct_boundaries(a.phones, tables[a.speaker])
        words = follow_phones(a.words, phones)
        got_words = [(k, w.start, w.end) for k, w in zip(a.keys, words, strict=True)]
        word_errors += boundaries(got_words, a.want_words)[0]
        got_phones = [(p.phone.lower(), p.start, p.end) for p in phones]
        phone_errors += boundaries(got_phones, a.want_phones)[0]
    return f"words {describe(word_errors)}\n      phones {describe(phone_errors)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = Path(__file__).resolve().parents[4] / "shared" / "data" / "alignment-eval"
    parser.add_argument("--data", type=Path, default=default)
    args = parser.parse_args()
    engine = PocketSphinxEngine(corrections=BoundaryCorrections())  # the raw boundaries
    timit = align_set(engine, args.data / "timit")
    speakers = sorted({a.speaker for a in timit})
    errors = {a.speaker: [] for a in timit}  # type: dict[str, list[tuple[str, float]]]
    for a in timit:
        errors[a.speaker] += boundary_errors(a.phones, matched(a))
    none = {s: BoundaryCorrections() for s in speakers}
    print(f"TIMIT, {len(timit)} files, {len(speakers)} speakers")
    print(f"  no correction:\n      {measure(timit, none)}")
    held_out = {
        s: learn_corrections(
            (e for other in speakers if other != s for e in errors[other]), f"TIMIT without {s}"
        )
        for s in speakers
    }
    print(f"  learnt on the 7 other speakers:\n      {measure(timit, held_out)}")
    clean: list[tuple[str, float]] = []
    for name in LICENCE_CLEAN:
        for a in align_set(engine, args.data / name):
            clean += boundary_errors(a.phones, matched(a))
    table = learn_corrections(clean, "praatio (MIT), ljspeech (public domain), mfa_tests (MIT)")
    print(f"  learnt on the licence-clean sets ({len(clean)} boundaries, silver):")
    print(f"      {measure(timit, {s: table for s in speakers})}")
    everything = learn_corrections((e for s in speakers for e in errors[s]), "TIMIT")
    print("  the TIMIT table (all speakers), ms to add per boundary class:")
    for name, shift in sorted(everything.shifts_ms.items(), key=lambda kv: -abs(kv[1])):
        print(f"      {name:24} {shift:+.1f}")
    print("  the licence-clean table:")
    for name, shift in sorted(table.shifts_ms.items(), key=lambda kv: -abs(kv[1])):
        print(f"      {name:24} {shift:+.1f}")


if __name__ == "__main__":
    main()
