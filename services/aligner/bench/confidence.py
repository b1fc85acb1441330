"""How well the word confidence tells a wrong transcript word from a right one.

    python services/aligner/bench/confidence.py [--data DIR] [--fit] [--phone-loop]

Takes the gold utterances (TIMIT), replaces 15% of each transcript's words by random
dictionary words of about the same length (seeded), aligns, and reports how well the
confidence separates replaced from correct words: ROC AUC and the best threshold, beside the
engine's old score (seg().prob).
The licence-clean sets (praatio, mfa_tests, ljspeech, librispeech) are measured the same way:
the shipped calibration was fitted on them (--fit prints a new one), never on TIMIT, whose
licence is non-commercial. A calibration fitted on TIMIT is only cross-validated here (fit on
half the speakers, measured on the other half) to show what the shipped one leaves on the table.
With --phone-loop, also the textbook denominator (a free phone loop) on TIMIT, for comparison.
Also: the share of files marked low_quality with the right and with the altered transcript
(and with another file's transcript),
and the real-time factor of the alignment with confidence (right transcripts, model warm), in CPU
time: the machines it runs on are shared, and wall time would measure the neighbours.
"""

from __future__ import annotations

import argparse
import math
import random
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pocketsphinx
from pocketsphinx import Decoder

from aligner_service.domain.confidence import (
    PHONE_CALIBRATION,
    WORD_CALIBRATION,
    Calibration,
    fit_calibration,
)
from aligner_service.domain.quality import assess
from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import EngineFailed, EngineOutput, WordTiming
from aligner_service.engines.pocketsphinx_engine import SENSCR_SHIFT, PocketSphinxEngine
from aligner_service.evaluation import best_threshold, roc_auc
from contracts.results import AlignedWord

GOLD = ("timit",)
CLEAN = ("praatio", "mfa_tests", "ljspeech", "librispeech")  # MIT, MIT, public domain, CC BY
REPLACED_SHARE = 0.15
FIT_DRAWS = 8  # the clean sets are small: several seeded draws of replacements each
GOLD_DRAWS = 3  # draws pooled on TIMIT, so that one lucky draw does not make the figure


@dataclass
class Words:
    """One row per aligned word of the altered transcripts."""

    speaker: list[str] = field(default_factory=list)
    replaced: list[bool] = field(default_factory=list)
    evidence: list[float] = field(default_factory=list)
    word_only: list[float] = field(default_factory=list)  # the word's own per-frame score
    word_only_replaced: list[bool] = field(default_factory=list)
    loop_gop: list[float] = field(default_factory=list)  # word-only minus the phone loop's
    loop_replaced: list[bool] = field(default_factory=list)
    loop_seconds_audio: float = 0.0
    loop_seconds_spent: float = 0.0
    old_score: list[float] = field(default_factory=list)
    phone_evidence: list[float] = field(default_factory=list)
    phone_replaced: list[bool] = field(default_factory=list)
    files: int = 0
    failed: int = 0  # with the altered transcript
    failed_right: int = 0
    right_files: int = 0  # aligned with the right transcript too (the first draw)
    flagged_right: int = 0
    flagged_altered: int = 0
    seconds_audio: float = 0.0
    seconds_spent: float = 0.0


def dictionary_words() -> dict[str, int]:
    """Each plain dictionary word and the number of phones of its first pronunciation."""
    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    words: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        head, _, phones = line.partition(" ")
        if head.isalpha() and head not in words:
            words[head] = len(phones.split())
    return words


def alter(
    words: list[str], vocabulary: dict[str, int], rng: random.Random
) -> tuple[list[str], set[int]]:
    """The transcript with a share of its words (at least one) replaced by random dictionary
    words of about the same length (within a phone): a transcript error is a plausible word,
    and one much longer than the stretch it replaces would only make the search fail."""
    by_length: dict[int, list[str]] = {}
    for word, length in sorted(vocabulary.items()):
        by_length.setdefault(length, []).append(word)
    count = max(1, round(REPLACED_SHARE * len(words)))
    chosen = set(rng.sample(range(len(words)), count))
    altered = list(words)
    for i in sorted(chosen):
        length = vocabulary.get(words[i], 4)
        pool = [w for n in (length - 1, length, length + 1) for w in by_length.get(n, [])]
        while altered[i] == words[i]:
            altered[i] = rng.choice(pool)
    return altered, chosen


def flagged(output: EngineOutput) -> bool:
    aligned = [
        AlignedWord(word="w", start=w.start, end=w.end, confidence=w.confidence)
        for w in output.words
    ]
    return assess(aligned, len(aligned)).low_quality


class PhoneLoop:
    """The free phone loop (an allphone search with the model's phone language model) over
    the same audio: the textbook denominator of goodness of pronunciation, measured here
    against the forced path's own frame-normalised score, which the engine ships."""

    def __init__(self) -> None:
        model = Path(pocketsphinx.get_model_path()) / "en-us"
        self._decoder = Decoder(lm=None, loglevel="FATAL")
        self._decoder.add_allphone_file("loop", str(model / "en-us-phone.lm.bin"))
        self._decoder.activate_search("loop")

    def per_frame(self, pcm: bytes) -> np.ndarray:
        """Each frame's share of its loop segment's acoustic score, in nats."""
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        frames = np.zeros(self._decoder.n_frames() + 1)
        for s in self._decoder.seg():
            # The allphone search keeps scores in senone units (shifted), not log units.
            nats = math.log(max(s.ascore, 1e-300)) * 2**SENSCR_SHIFT
            frames[s.start_frame : s.end_frame + 1] = nats / (s.end_frame - s.start_frame + 1)
        return frames


def run(
    engine: PocketSphinxEngine,
    folder: Path,
    vocabulary: dict[str, int],
    rng: random.Random,
    rows: Words,
    right_too: bool,
    loop: PhoneLoop | None = None,
) -> None:
    for wav_path in sorted(folder.glob("*.wav")):
        with wave.open(str(wav_path)) as source:
            pcm = source.readframes(source.getnframes())
        tokens = tokenize(wav_path.with_suffix(".txt").read_text(encoding="utf-8"))
        engine.learn([t.key for t in tokens])
        words = [t.key for t in tokens if engine.knows(t.key)]
        altered, chosen = alter(words, vocabulary, rng)
        engine.learn(altered)
        rows.files += 1
        if right_too:
            rows.right_files += 1
            started = time.process_time()
            try:
                rows.flagged_right += flagged(engine.align(pcm, words))
            except EngineFailed:
                rows.failed_right += 1
            rows.seconds_spent += time.process_time() - started
            rows.seconds_audio += len(pcm) / 32_000
        try:
            output = engine.align(pcm, altered)
        except EngineFailed:  # also a sign that the transcript is wrong, but not a score
            rows.failed += 1
            continue
        rows.flagged_altered += flagged(output)
        speaker = wav_path.name.split("_")[0] if folder.name == "timit" else folder.name
        for i, w in enumerate(output.words):
            if w.evidence is None or w.score is None:
                continue
            rows.speaker.append(speaker)
            rows.replaced.append(i in chosen)
            rows.evidence.append(w.evidence)
            rows.old_score.append(w.score)
        try:
            word_only = word_only_timings(engine, pcm, altered)
        except EngineFailed:  # the search's adaptation to earlier files can tip it over
            word_only = []
        rows.word_only += [w.evidence or 0.0 for w in word_only]
        rows.word_only_replaced += [i in chosen for i in range(len(word_only))]
        if loop is not None and word_only:
            started = time.process_time()
            free = loop.per_frame(pcm)
            rows.loop_seconds_spent += time.process_time() - started
            rows.loop_seconds_audio += len(pcm) / 32_000
            for i, w in enumerate(word_only):
                frames = free[
                    round(w.start * 100) : max(round(w.end * 100), round(w.start * 100) + 1)
                ]
                rows.loop_gop.append((w.evidence or 0.0) - float(frames.mean()))
                rows.loop_replaced.append(i in chosen)
        for p in output.phones:
            if p.evidence is not None and p.word_index is not None:
                rows.phone_evidence.append(p.evidence)
                rows.phone_replaced.append(p.word_index in chosen)


def swapped(engine: PocketSphinxEngine, folder: Path) -> None:
    """The file-level mistake: each recording aligned with the next file's transcript (the
    pairs mixed up). Such a file should fail or be marked low_quality."""
    paths = sorted(folder.glob("*.wav"))
    failed = marked = 0
    for wav_path, other in zip(paths, paths[1:] + paths[:1], strict=True):
        with wave.open(str(wav_path)) as source:
            pcm = source.readframes(source.getnframes())
        tokens = tokenize(other.with_suffix(".txt").read_text(encoding="utf-8"))
        engine.learn([t.key for t in tokens])
        try:
            marked += flagged(engine.align(pcm, [t.key for t in tokens if engine.knows(t.key)]))
        except EngineFailed:
            failed += 1
    print(
        f"    mixed-up pairs (another file's transcript): {failed}/{len(paths)} fail,"
        f" {marked} of the other {len(paths) - failed} are marked low_quality"
    )


def word_only_timings(engine: PocketSphinxEngine, pcm: bytes, words: list[str]) -> list[WordTiming]:
    """The alternative without the phone pass: each word's own per-frame score (the word
    search alone, on its own frames; private, as nothing but this comparison needs it)."""
    timings, _ = engine._align_words(pcm, words, len(words))
    return timings


def separation(
    name: str,
    scores: Sequence[float],
    replaced: Sequence[bool],
    unit: str = "",
    calibration: Calibration | None = None,
) -> None:
    """Higher scores should mean right words: AUC is P(right word scores above a replaced one)."""
    right = [s for s, r in zip(scores, replaced, strict=True) if not r]
    wrong = [s for s, r in zip(scores, replaced, strict=True) if r]
    threshold, caught, false_alarms = best_threshold(right, wrong)
    as_confidence = f" (confidence {calibration(threshold):.2f})" if calibration else ""
    print(
        f"    {name:34} AUC {roc_auc(right, wrong):.3f}   best threshold {threshold:8.3f}{unit}"
        f"{as_confidence}: flags {caught:.0%} of replaced, {false_alarms:.0%} of right words"
    )


def at_half(
    name: str, calibration: Calibration, evidence: Sequence[float], replaced: Sequence[bool]
) -> None:
    confidence = np.array([calibration(e) for e in evidence])
    wrong = np.array(replaced, dtype=bool)
    y = (~wrong).astype(float)
    clipped = np.clip(confidence, 1e-6, 1 - 1e-6)
    log_loss = float(-(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).mean())
    print(
        f"    {name:34} confidence < 0.5 flags {(confidence[wrong] < 0.5).mean():.0%} of replaced,"
        f" {(confidence[~wrong] < 0.5).mean():.0%} of right words; log-loss {log_loss:.3f}"
        f"  (slope {calibration.slope:.3f}, midpoint {calibration.midpoint:.2f} nats/frame)"
    )


def cross_validated(rows: Words) -> None:
    """A calibration fitted on half the TIMIT speakers, measured on the other half, both ways."""
    speakers = sorted(set(rows.speaker))
    halves = [set(speakers[0::2]), set(speakers[1::2])]
    for k, fit_on in enumerate(halves):
        train = [s in fit_on for s in rows.speaker]
        calibration = fit_calibration(
            [e for e, t in zip(rows.evidence, train, strict=True) if t],
            [not r for r, t in zip(rows.replaced, train, strict=True) if t],
        )
        test_evidence = [e for e, t in zip(rows.evidence, train, strict=True) if not t]
        test_replaced = [r for r, t in zip(rows.replaced, train, strict=True) if not t]
        at_half(f"TIMIT-fitted, fold {k + 1} held out", calibration, test_evidence, test_replaced)


def report(title: str, rows: Words) -> None:
    rtf = rows.seconds_spent / rows.seconds_audio if rows.seconds_audio else 0.0
    print(
        f"  {title}: files {rows.right_files} (altered {rows.files} times), failed"
        f" {rows.failed_right} with the right transcript,"
        f" {rows.failed} with the altered one; words {len(rows.replaced)}"
        f" (replaced {sum(rows.replaced)}), CPU RTF {rtf:.3f} with confidence (right transcripts)"
    )
    separation(
        "confidence (phone-mean GOP)", rows.evidence, rows.replaced, " nats/fr", WORD_CALIBRATION
    )
    separation("word-only GOP (no phone pass)", rows.word_only, rows.word_only_replaced, " nats/fr")
    separation("old score (seg().prob)", rows.old_score, rows.replaced)
    if rows.loop_gop:
        loop_rtf = rows.loop_seconds_spent / rows.loop_seconds_audio
        separation(
            f"word minus phone loop (CPU RTF +{loop_rtf:.3f})",
            rows.loop_gop,
            rows.loop_replaced,
            " nats/fr",
        )
    if rows.phone_evidence:
        separation("phones (in a replaced word or not)", rows.phone_evidence, rows.phone_replaced)
    at_half("shipped calibration (clean-fitted)", WORD_CALIBRATION, rows.evidence, rows.replaced)
    right = rows.right_files - rows.failed_right
    print(
        f"    low_quality: {rows.flagged_right}/{right} files with the right transcript,"
        f" {rows.flagged_altered}/{rows.files - rows.failed} with"
        f" {REPLACED_SHARE:.0%} of words replaced"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = Path(__file__).resolve().parents[4] / "shared" / "data" / "alignment-eval"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--fit", action="store_true", help="fit the calibration on clean sets")
    parser.add_argument(
        "--phone-loop", action="store_true", help="compare a phone-loop denominator on TIMIT"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    engine = PocketSphinxEngine()
    print(f"engine pocketsphinx: start-up {time.perf_counter() - started:.2f} s")
    vocabulary = dictionary_words()
    rng = random.Random(args.seed)

    clean = Words()
    for draw in range(FIT_DRAWS if args.fit else 1):
        for name in CLEAN:
            if (args.data / name).is_dir():
                run(engine, args.data / name, vocabulary, rng, clean, right_too=draw == 0)
    report(f"licence-clean sets ({', '.join(CLEAN)})", clean)
    if args.fit:
        words = fit_calibration(clean.evidence, [not r for r in clean.replaced])
        phones = fit_calibration(clean.phone_evidence, [not r for r in clean.phone_replaced])
        print(f"  fitted: WORD_CALIBRATION = {words}\n          PHONE_CALIBRATION = {phones}")
        print(f"  (shipped: {WORD_CALIBRATION}, {PHONE_CALIBRATION})")

    gold = Words()
    loop = PhoneLoop() if args.phone_loop else None
    rng = random.Random(args.seed + 1)  # the same draws whether or not --fit ran first
    for draw in range(GOLD_DRAWS):
        for name in GOLD:
            if (args.data / name).is_dir():
                run(engine, args.data / name, vocabulary, rng, gold, draw == 0, loop)
    if gold.files:
        report(f"TIMIT (gold, 8 speakers; {GOLD_DRAWS} draws pooled)", gold)
        cross_validated(gold)
        for name in GOLD:
            swapped(engine, args.data / name)
    print(
        f"  evidence is in nats per frame; a word's confidence is 0.5 at"
        f" {WORD_CALIBRATION.midpoint:.2f}"
    )
    assert math.isfinite(WORD_CALIBRATION.midpoint)


if __name__ == "__main__":
    main()
