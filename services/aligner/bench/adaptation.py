"""What speaker adaptation (MLLR of the model's means) gains on TIMIT, and what it costs.

    python services/aligner/bench/adaptation.py [--data ../shared/data/alignment-eval]

Three ways, on the same 76 TIMIT files (8 speakers, a folder each in a real corpus):
- none: the product's default;
- per recording: each file's own first pass adapts the model its boundaries are refined by;
- per speaker: the speaker's OTHER files (never the file measured) adapt both the decoder
  (PocketSphinx loads the transform) and the refinement, as a job with a speaker's folder
  could;
and on long recordings (each speaker's files joined with 0.1-0.8 s pauses), aligned once
and with `adapt_min_seconds` (ALIGNER_ADAPT_MIN_SECONDS): two passes, the second adapted to
the recording's own first.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

from aligner_service.domain.adaptation import AdaptationStatistics
from aligner_service.domain.transcript import tokenize
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.evaluation import (
    boundaries,
    boundary_f1,
    describe,
    joined_recording,
    reference_key,
)

sys.path.insert(0, str(Path(__file__).parent))
from accuracy import Tally, run_one


def report(label: str, tally: Tally, extra_cpu: float = 0.0) -> None:
    cpu_rtf = (tally.cpu_spent + extra_cpu) / (tally.seconds_audio or 1.0)
    print(f"  {label:14} files {tally.files}  failed {len(tally.failed)}  CPU RTF {cpu_rtf:.3f}")
    print(f"      words:  {describe(tally.word_errors, boundary_f1(*tally.word_hits))}")
    print(f"      phones: {describe(tally.phone_errors, boundary_f1(*tally.phone_hits))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = Path(__file__).resolve().parents[4] / "shared" / "data" / "alignment-eval"
    parser.add_argument("--data", type=Path, default=default)
    args = parser.parse_args()
    folder = args.data / "timit"
    speakers: dict[str, list[Path]] = defaultdict(list)
    for wav in sorted(folder.glob("*.wav")):
        speakers[wav.name.split("_")[0]].append(wav)
    print(f"TIMIT: {sum(map(len, speakers.values()))} files, {len(speakers)} speakers")

    plain = Tally()
    engine = PocketSphinxEngine()
    for wavs in speakers.values():
        for wav in wavs:
            run_one(engine, folder, wav, plain)
    report("none", plain)

    own = Tally()
    adapting = PocketSphinxEngine(adapt=True)
    statistics: dict[Path, AdaptationStatistics] = {}
    for wavs in speakers.values():
        for wav in wavs:
            run_one(adapting, folder, wav, own)
            if adapting.last_statistics is not None:
                statistics[wav] = adapting.last_statistics
    report("per recording", own)

    speaker = Tally()
    setup = 0.0
    for wavs in speakers.values():
        for wav in wavs:
            others = [statistics[w] for w in wavs if w != wav and w in statistics]
            total = others[0]
            for more in others[1:]:
                total = total.add(more)
            started = time.process_time()
            adapted = adapting.adapted_to(total)
            setup += time.process_time() - started
            run_one(adapted, folder, wav, speaker)
    report("per speaker", speaker, extra_cpu=setup)
    print(
        f"  (per speaker: a transform and a decoder per file here, {setup:.1f} CPU-s in all;"
        " a job would make one per speaker)"
    )

    long_recordings(folder, sorted(speakers))


def long_recordings(folder: Path, speakers: list[str]) -> None:
    print("Long recordings: each speaker's files joined, 0.1-0.8 s pauses between them")
    engines = {
        "aligned once": PocketSphinxEngine(),
        "adapted (2 passes)": PocketSphinxEngine(adapt_min_seconds=5),
    }
    errors: dict[str, list[float]] = {name: [] for name in engines}
    cpu = dict.fromkeys(engines, 0.0)
    audio = 0.0
    for speaker in speakers:
        pcm, text, reference = joined_recording(
            [folder], None, random.Random(7), pattern=f"{speaker}_*.wav"
        )
        tokens = tokenize(text)
        want = [(reference_key(w), start, end) for w, start, end in reference]
        audio += len(pcm) / 32_000
        for name, engine in engines.items():
            engine.learn([t.key for t in tokens])
            known = [t for t in tokens if engine.knows(t.key)]
            started = time.process_time()
            output = engine.align(pcm, [t.key for t in known], "en")
            cpu[name] += time.process_time() - started
            got = [(t.key, w.start, w.end) for t, w in zip(known, output.words, strict=True)]
            errors[name] += boundaries(got, want)[0]
    print(f"  {len(speakers)} recordings, {audio / len(speakers):.0f} s each on average")
    for name in engines:
        print(f"  {name:18} CPU RTF {cpu[name] / audio:.3f}  words: {describe(errors[name])}")


if __name__ == "__main__":
    main()
