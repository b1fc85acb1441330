"""An hour of speech in one file: accuracy, speed and peak memory of the chunked path.

    python services/aligner/bench/long_audio.py [--minutes 60] [--data ../shared/data/...]

The file is joined from the evaluation set's labelled utterances (repeated, with pauses of
0.1-0.8 s between them), so every word boundary is known. Prints word-boundary error over
the whole file, real-time factor, pieces that fell back to the coarse pass, progress
reports, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

from aligner_service.domain.transcript import tokenize
from aligner_service.engines.long_audio import LongAudioAligner, WavFile
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.engines.tts_dtw_engine import TtsDtwEngine
from aligner_service.evaluation import boundaries, describe, joined_recording, reference_key

FOLDERS = ("timit", "praatio", "librispeech", "ljspeech", "mfa_tests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = Path(__file__).resolve().parents[4] / "shared" / "data" / "alignment-eval"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--align", type=Path, help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.align:
        align(args.align)
        return
    folders = [args.data / name for name in FOLDERS]
    pcm, text, reference = joined_recording(folders, args.minutes * 60, random.Random(1))
    with tempfile.TemporaryDirectory() as folder:
        with wave.open(str(Path(folder) / "long.wav"), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(16_000)
            wav.writeframes(pcm)
        (Path(folder) / "long.txt").write_text(text, encoding="utf-8")
        (Path(folder) / "long.words.json").write_text(json.dumps(reference))
        del pcm
        # Aligned in a child process, so that its peak memory is the aligner's alone.
        subprocess.run([sys.executable, __file__, "--align", folder], check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak memory of the aligning process: {peak:.0f} MB")


def align(folder: Path) -> None:
    engine, locator = PocketSphinxEngine(), TtsDtwEngine()
    tokens = tokenize((folder / "long.txt").read_text(encoding="utf-8"))
    engine.learn([t.key for t in tokens])
    known = [t for t in tokens if engine.knows(t.key)]
    source = WavFile(folder / "long.wav")
    reports: list[float] = []
    started = time.perf_counter()
    output = LongAudioAligner(lambda: locator).align(
        engine, source, [t.key for t in known], "en", reports.append
    )
    spent = time.perf_counter() - started
    reference = json.loads((folder / "long.words.json").read_text())
    got = [(t.key, w.start, w.end) for t, w in zip(known, output.words, strict=True)]
    want = [(reference_key(w), s, e) for w, s, e in reference]
    errors, matched = boundaries(got, want)
    print(f"long audio: {source.duration / 60:.1f} min, {len(known)} words (pocketsphinx)")
    print(f"  words:  {describe(errors)}  matched {matched}/{len(want)}")
    print(f"  RTF {spent / source.duration:.3f} ({spent:.0f} s)  progress reports {len(reports)}")
    print(f"  words placed by the coarse pass only: {output.coarse_words}")
    for note in output.notes:
        print(f"    {note}")


if __name__ == "__main__":
    main()
