"""Throughput of one aligner worker (engine warm) on a corpus of 100 files.

    python services/aligner/bench/speed.py [--data ...] [--files 100]

Cycles through the evaluation set's utterances; prints files per second, real-time factor
and peak memory. Work done by the service around the engine (S3, events) is not included.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import time
import wave
from pathlib import Path

from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import EngineFailed
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = Path(__file__).resolve().parents[4] / "shared" / "data" / "alignment-eval"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--files", type=int, default=100)
    args = parser.parse_args()
    corpus = []
    for wav_path in sorted(args.data.glob("*/*.wav")):
        with wave.open(str(wav_path)) as source:
            pcm = source.readframes(source.getnframes())
        words = [t.key for t in tokenize(wav_path.with_suffix(".txt").read_text(encoding="utf-8"))]
        corpus.append((pcm, words))
    engine = PocketSphinxEngine()
    audio = spent = 0.0
    failed = 0
    started = time.perf_counter()
    for pcm, words in itertools.islice(itertools.cycle(corpus), args.files):
        engine.learn(words)
        known = [w for w in words if engine.knows(w)]
        t = time.perf_counter()
        try:
            engine.align(pcm, known, "en")
        except EngineFailed:
            failed += 1
        spent += time.perf_counter() - t
        audio += len(pcm) / 32000
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"pocketsphinx, one worker: {args.files} files ({audio:.0f} s of audio) in {wall:.1f} s"
        f" = {args.files / wall:.1f} files/s, RTF {spent / audio:.3f}, {failed} failed,"
        f" peak memory {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
