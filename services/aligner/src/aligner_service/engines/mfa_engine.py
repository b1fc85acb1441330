"""Montreal Forced Aligner for users who have it: the local ``mfa`` command (conda install),
or MFA's container through the Docker SDK where a Docker engine answers.

MFA aligns a corpus folder and writes TextGrids; this engine gives it one pair at a time
and maps the words and phones tiers into our result. Each call starts MFA anew (MFA has no
server mode), so it suits accuracy over throughput.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from praatio import textgrid

from aligner_service.engines.base import (
    EngineFailed,
    EngineOutput,
    EngineUnavailable,
    PhoneTiming,
    WordTiming,
)

__all__ = ["MfaEngine", "MfaModels", "parse_mfa_textgrid"]

IMAGE = "mmcauliffe/montreal-forced-aligner:latest"
SILENCES = frozenset({"", "sil", "sp", "<eps>"})
TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class MfaModels:
    dictionary: str = "english_us_arpa"
    acoustic_model: str = "english_us_arpa"


def align_command(mfa: str, corpus: str, output: str, models: MfaModels) -> list[str]:
    return [
        mfa, "align", "--clean", "--single_speaker", "--output_format", "long_textgrid",
        corpus, models.dictionary, models.acoustic_model, output,
    ]  # fmt: skip


def parse_mfa_textgrid(path: Path, words: list[str]) -> EngineOutput:
    """MFA's tiers are ``words`` and ``phones`` (``<speaker> - words`` with speakers);
    silences are blank or ``sil``; a word it could not pronounce is ``<unk>`` / ``spn``."""
    grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    names = {name.split(" - ")[-1]: name for name in grid.tierNames}
    if "words" not in names:
        raise EngineFailed("MFA wrote no words tier")
    intervals = [e for e in grid.getTier(names["words"]).entries if e.label not in SILENCES]
    if len(intervals) != len(words):
        raise EngineFailed(f"MFA aligned {len(intervals)} of {len(words)} words")
    timings = [WordTiming(e.start, e.end) for e in intervals]
    phones: list[PhoneTiming] = []
    if "phones" in names:
        for e in grid.getTier(names["phones"]).entries:
            if e.label in SILENCES:
                continue
            index = next((i for i, w in enumerate(timings) if w.start <= e.start < w.end), None)
            phones.append(PhoneTiming(e.label, e.start, e.end, index))
    return EngineOutput(words=timings, phones=phones)


class MfaEngine:
    name = "mfa"
    languages: tuple[str, ...] = ("en",)
    outputs_phones = True

    def __init__(self, command: str = "mfa", models: MfaModels | None = None) -> None:
        self._models = models or MfaModels()
        self._local = shutil.which(command)
        self._docker = None if self._local else _docker_client()
        if self._local is None and self._docker is None:
            raise EngineUnavailable(
                "Montreal Forced Aligner is not available on this worker: install it "
                "(conda install -c conda-forge montreal-forced-aligner, then "
                f"mfa model download acoustic {self._models.acoustic_model}) or give the "
                "worker a Docker engine"
            )

    def knows(self, word: str) -> bool:
        return True  # MFA maps unknown words to <unk> itself

    def learn(self, words: list[str]) -> list[str]:
        return []

    def align(self, pcm16k: bytes, words: list[str], language: str = "en") -> EngineOutput:
        with tempfile.TemporaryDirectory(prefix="mfa-") as scratch:
            corpus, output = Path(scratch) / "corpus", Path(scratch) / "out"
            corpus.mkdir()
            output.mkdir()
            with wave.open(str(corpus / "utt.wav"), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(16_000)
                wav.writeframes(pcm16k)
            (corpus / "utt.lab").write_text(" ".join(words), encoding="utf-8")
            self._run(corpus, output)
            result = output / "utt.TextGrid"
            if not result.exists():
                raise EngineFailed("MFA could not align this pair")
            return parse_mfa_textgrid(result, words)

    def _run(self, corpus: Path, output: Path) -> None:
        if self._local is not None:
            done = subprocess.run(  # noqa: S603 (our own argv: paths we made, settings' models)
                align_command(self._local, str(corpus), str(output), self._models),
                capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise EngineFailed(f"MFA failed: {done.stderr.strip()[-300:]}")
            return
        assert self._docker is not None
        self._docker.containers.run(
            IMAGE,
            align_command("mfa", "/data/corpus", "/data/out", self._models),
            volumes={str(corpus.parent): {"bind": "/data", "mode": "rw"}},
            remove=True,
        )


def _docker_client() -> Any:
    try:
        import docker  # noqa: PLC0415 (optional: only where a Docker engine may answer)

        client = docker.from_env()
        client.ping()
    except Exception:  # no SDK, no engine, no permission: all mean no Docker here
        return None
    return client
