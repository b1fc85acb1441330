# ruff: noqa: RUF001 (IPA letters are meant: they are the data)
"""Word and phone boundary accuracy of every available engine on the shared evaluation set.

    python services/aligner/bench/accuracy.py [--data ../shared/data/alignment-eval]

Prints, per engine and per set of the language it serves (gold: hand-labelled; silver: made
by another aligner, see the set's README), as the field reports them: boundary error (mean,
median, share within 10/20/25/50/100 ms) and boundary F1 at 20 ms, for words, and for
phones where the reference's phone set compares (TIMIT, mapped to the 39-phone set); failed
files, real-time factor with the model warm, start-up time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aligner_service.domain.ipa import ipa_word, to_arpabet
from aligner_service.domain.transcript import Token, tokenize
from aligner_service.engines.base import Engine, EngineFailed, supports
from aligner_service.engines.espeak_phones_engine import EspeakPhonesEngine
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.engines.tts_dtw_engine import TtsDtwEngine
from aligner_service.evaluation import (
    boundaries,
    boundary_f1,
    boundary_hits,
    byte_slipped,
    describe,
    edges,
    reference_key,
    synthetic_utterance,
)

GOLD = ("timit", "praatio", "voxangeles", "sppas_nan")
# The language of each set (VoxAngeles: by the file's prefix, ISO 639-3).
LANGUAGES = {
    "sppas_nan": "nan",  # no espeak-ng voice: espeak-phones reads its romanisation by rule
    "sppas_fra_silver": "fr",
    "emuwebapp_de": "de",
    "voxangeles": "by-prefix",
}
ISO_639_3 = {"ces": "cs", "ell": "el", "eus": "eu"}
IPA_SETS = {"voxangeles"}  # transcripts are IPA: read as a job with transcript_format=ipa
IPA_ENGINES = {"espeak-phones"}  # the engines that read IPA words
ENGLISH_SETS = {"timit", "praatio", "mfa_tests", "ljspeech", "librispeech"}
ENGINES: dict[str, Callable[[], Engine]] = {
    "pocketsphinx": PocketSphinxEngine,
    "tts-dtw": TtsDtwEngine,
    "espeak-phones": EspeakPhonesEngine,
}
# English has PocketSphinx's own dictionary: espeak-phones is measured where it is meant.
NON_ENGLISH_ONLY = {"espeak-phones"}
# The references' phone labels, where they are SAMPA (WebMAUS, SPPAS), as IPA; phones are
# compared in the model's phone classes (each IPA phone's nearest ARPAbet phone), since
# two transcribers rarely write a language's sounds with the same IPA letters.
SAMPA_TO_IPA = {
    "?": "ʔ", "I": "ɪ", "C": "ç", "a:": "aː", "a": "a", "6": "ɐ", "@": "ə", "E": "ɛ",
    "E:": "ɛː", "e:": "eː", "e": "e", "i:": "iː", "i": "i", "o:": "oː", "o": "o", "O": "ɔ",
    "u:": "uː", "u": "u", "U": "ʊ", "y:": "yː", "y": "y", "Y": "ʏ", "2:": "øː", "2": "ø",
    "9": "œ", "aI": "aɪ", "aU": "aʊ", "OY": "ɔʏ", "N": "ŋ", "S": "ʃ", "Z": "ʒ", "x": "x",
    "R": "ʁ", "r": "ʁ", "H": "ɥ", "J": "ɲ", "j": "j", "w": "w", "E~": "ɛ̃", "O~": "ɔ̃",
    "A~": "ɑ̃", "a~": "ɑ̃", "9~": "œ̃", "A": "ɑ", "ts": "ts", "pf": "pf", "tS": "tʃ",
    "dZ": "dʒ", "g": "ɡ", "Q": "ɒ", "V": "ʌ", "T": "θ", "D": "ð",
}  # fmt: skip
SAMPA_SETS = {"emuwebapp_de", "sppas_fra_silver"}
NOT_PHONES = {"fp", "gb", "lg", "dummy", "sil", "#", "<p:>", "@@", "+", "*"}
# Synthetic speech with known boundaries for languages without a real reference here:
# each word spoken alone by espeak-ng in another voice and pace, joined with pauses.
SYNTHETIC = {
    "de": "Der schnelle braune Fuchs springt heute Morgen über den faulen Hund am Fluss",
    "fr": "Le petit chat gris dort tranquillement sur le canapé de la grand-mère ce soir",
    "es": "Mañana por la mañana vamos a visitar el museo de arte moderno con mis amigos",
    "pt": "O menino comprou pão fresco na padaria da esquina antes de ir para a escola",
    "it": "La settimana prossima andremo al mare con tutta la famiglia se il tempo è bello",
    "nl": "Mijn buurman fietst elke ochtend naar zijn werk langs het kanaal in de stad",
}

# TIMIT's 61 phones to the 39-phone set (Lee & Hon); closures join the stop that follows.
TIMIT_TO_39 = {
    "ao": "aa",
    "ax": "ah",
    "ax-h": "ah",
    "axr": "er",
    "hv": "hh",
    "ix": "ih",
    "el": "l",
    "em": "m",
    "en": "n",
    "nx": "n",
    "eng": "ng",
    "zh": "sh",
    "ux": "uw",
}
CLOSURES = {"bcl", "dcl", "gcl", "pcl", "tcl", "kcl"}
SILENCES = {"h#", "pau", "epi", "q", "sil", "sp", ""}


@dataclass
class Tally:
    word_errors: list[float] = field(default_factory=list)
    phone_errors: list[float] = field(default_factory=list)
    word_hits: list[int] = field(default_factory=lambda: [0, 0, 0])  # hits, found, reference
    phone_hits: list[int] = field(default_factory=lambda: [0, 0, 0])
    files: int = 0
    failed: list[str] = field(default_factory=list)
    words_expected: int = 0
    words_matched: int = 0
    seconds_audio: float = 0.0
    seconds_spent: float = 0.0
    cpu_spent: float = 0.0  # this process's CPU time: what RTF is on a machine others share


def reference_phones(path: Path) -> list[tuple[str, float, float]]:
    phones: list[tuple[str, float, float]] = []
    pending_start: float | None = None
    for p in json.loads(path.read_text()):
        label = p["phone"].lower()
        if label in CLOSURES:
            pending_start = p["start"] if pending_start is None else pending_start
            continue
        if label in SILENCES:
            pending_start = None
            continue
        start = pending_start if pending_start is not None else p["start"]
        phones.append((TIMIT_TO_39.get(label, label), start, p["end"]))
        pending_start = None
    return phones


def language_of(folder: Path, wav_path: Path) -> str:
    language = LANGUAGES.get(folder.name, "en-us")
    if language == "by-prefix":
        return ISO_639_3.get(wav_path.name.split("-")[0], "und")
    return language


def count(
    hits: list[int], got: list[tuple[str, float, float]], want: list[tuple[str, float, float]]
) -> None:
    for i, n in enumerate(boundary_hits(edges(got), edges(want))):
        hits[i] += n


def model_class(phone: str) -> str:
    """A phone's nearest model phone: the class two phone sets are compared in."""
    arpabet = to_arpabet(phone)
    return arpabet[0] if arpabet else phone


def comparable_phones(folder: Path, path: Path) -> list[tuple[str, float, float]]:
    """The reference's phones in the model's phone classes (glottal stops and fillers out)."""
    phones = []
    for p in json.loads(path.read_text()):
        label = p["phone"]
        if label in NOT_PHONES:
            continue
        ipa = SAMPA_TO_IPA.get(label, label) if folder.name in SAMPA_SETS else label
        if to_arpabet(ipa):
            phones.append((model_class(ipa), p["start"], p["end"]))
    return phones


def transcript_tokens(folder: Path, text: str) -> list[Token]:
    """IPA transcripts as a job with transcript_format=ipa reads them (words between spaces,
    marked as IPA); others as the service tokenizes them."""
    if folder.name in IPA_SETS:
        return [Token(w, ipa_word(w)) for w in text.split()]
    return tokenize(text)


def run(engine: Engine, folder: Path, tally: Tally) -> None:
    for wav_path in sorted(folder.glob("*.wav")):
        run_one(engine, folder, wav_path, tally)


def run_one(engine: Engine, folder: Path, wav_path: Path, tally: Tally) -> None:
    """One file aligned and measured into the tally (nothing if the engine lacks its
    language)."""
    language = language_of(folder, wav_path)
    if not supports(engine, language):
        return
    base = wav_path.with_suffix("")
    with wave.open(str(wav_path)) as source:
        pcm = source.readframes(source.getnframes())
        duration = source.getnframes() / source.getframerate()
    tokens = transcript_tokens(folder, base.with_suffix(".txt").read_text(encoding="utf-8"))
    engine.learn([t.key for t in tokens])  # as the service does: guess what is missing
    known = [t for t in tokens if engine.knows(t.key)]
    reference = json.loads(Path(f"{base}.words.json").read_text())
    want = [(reference_key(w["word"]), w["start"], w["end"]) for w in reference]
    tally.files += 1
    tally.words_expected += len(want)
    tally.seconds_audio += duration
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        output = engine.align(pcm, [t.key for t in known], language)
    except EngineFailed:
        damaged = " (damaged: byte-slipped PCM)" if byte_slipped(pcm) else ""
        tally.failed.append(wav_path.name + damaged)
        return
    finally:
        tally.seconds_spent += time.perf_counter() - started
        tally.cpu_spent += time.process_time() - cpu_started
    got = [
        (reference_key(t.text) if folder.name in IPA_SETS else t.key, w.start, w.end)
        for t, w in zip(known, output.words, strict=True)
    ]
    errors, matched = boundaries(got, want)
    tally.word_errors += errors
    tally.words_matched += matched
    count(tally.word_hits, got, want)
    phones_path = Path(f"{base}.phones.json")
    if folder.name == "timit" and phones_path.exists() and output.phones:
        got_phones = [(p.phone.lower(), p.start, p.end) for p in output.phones]
        want_phones = reference_phones(phones_path)
        tally.phone_errors += boundaries(got_phones, want_phones)[0]
        count(tally.phone_hits, got_phones, want_phones)
    elif phones_path.exists() and output.phones and folder.name not in ENGLISH_SETS:
        got_phones = [(model_class(p.phone), p.start, p.end) for p in output.phones]
        want_phones = comparable_phones(folder, phones_path)
        tally.phone_errors += boundaries(got_phones, want_phones)[0]
        count(tally.phone_hits, got_phones, want_phones)


def run_synthetic(engine: Engine) -> None:
    rng = random.Random(11)
    for language, sentence in SYNTHETIC.items():
        if not supports(engine, language):
            continue
        pcm, want = synthetic_utterance(sentence.split(), language, rng)
        started = time.perf_counter()
        output = engine.align(pcm, [w for w, _, _ in want], language)
        rtf = (time.perf_counter() - started) / (len(pcm) / 32_000)
        got = [(w, t.start, t.end) for (w, _, _), t in zip(want, output.words, strict=True)]
        print(f"  [synthetic] {language:4} words {len(want):2}  RTF {rtf:.3f}")
        print(f"      words:  {describe(boundaries(got, want)[0])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = Path(__file__).resolve().parents[4] / "shared" / "data" / "alignment-eval"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--engines", nargs="*", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--sets", nargs="*", help="only these folders (default: all)")
    args = parser.parse_args()
    for name in args.engines:
        factory = ENGINES[name]
        started = time.perf_counter()
        engine = factory()
        startup = time.perf_counter() - started
        print(f"engine {name}: start-up {startup:.2f} s")
        if name == "tts-dtw" and not args.sets:
            run_synthetic(engine)
        for group in ("gold", "silver"):
            folders = sorted(
                f
                for f in args.data.iterdir()
                if f.is_dir()
                and ((f.name in GOLD) == (group == "gold"))
                and (not args.sets or f.name in args.sets)
                and not (name in NON_ENGLISH_ONLY and f.name in ENGLISH_SETS)
            )
            for folder in folders:
                if folder.name in IPA_SETS and name not in IPA_ENGINES:
                    print(
                        f"  [{group}] {folder.name:12} IPA transcripts: this engine reads spelling"
                    )
                    continue
                tally = Tally()
                run(engine, folder, tally)
                if not tally.files:
                    if folder.name in LANGUAGES:
                        language = LANGUAGES[folder.name]
                        print(f"  [{group}] {folder.name:12} no voice for '{language}'")
                    continue
                audio = tally.seconds_audio or 1.0
                rtf, cpu_rtf = tally.seconds_spent / audio, tally.cpu_spent / audio
                matched = f"{tally.words_matched}/{tally.words_expected}"
                print(
                    f"  [{group}] {folder.name:12} files {tally.files:3}"
                    f"  failed {len(tally.failed):2}  words matched {matched}"
                    f"  RTF {rtf:.3f} (CPU {cpu_rtf:.3f})"
                )
                words_f1 = boundary_f1(*tally.word_hits)
                print(f"      words:  {describe(tally.word_errors, words_f1)}")
                if tally.phone_errors:
                    phones_f1 = boundary_f1(*tally.phone_hits)
                    phone_set = (
                        "TIMIT 39-phone set" if folder.name == "timit" else "in model phone classes"
                    )
                    print(f"      phones: {describe(tally.phone_errors, phones_f1)} ({phone_set})")
                if tally.failed:
                    damaged = sum("damaged" in f for f in tally.failed)
                    print(f"      failed: {len(tally.failed)}, of which {damaged} damaged input:")
                    for failed in tally.failed:
                        print(f"        {failed}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
