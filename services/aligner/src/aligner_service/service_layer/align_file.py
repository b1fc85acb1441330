"""Aligns one stored pair and writes its results: JSON (the model) and TextGrid."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from aligner_service.adapters.textgrid import to_textgrid
from aligner_service.domain.ipa import ipa_tokens
from aligner_service.domain.quality import assess
from aligner_service.domain.transcript import Token, tokenize
from aligner_service.engines.base import DefinesWords, Engine, EngineFailed
from aligner_service.engines.long_audio import LongAudioAligner, WavFile
from aligner_service.metrics import observe_alignment
from contracts import StoredFile
from contracts.results import AlignedPhone, AlignedWord, AlignmentResult, Pronunciation
from servicekit.objects import Objects

__all__ = ["FileAligner", "Lexicon", "lexicon", "result_keys"]

PROGRESS_STEPS = 20  # a long file reports its progress every 5%


def result_keys(user_id: UUID, job_id: UUID, file_id: UUID) -> dict[str, str]:
    base = f"{user_id}/results/{job_id}/{file_id}"
    return {"json": f"{base}.json", "textgrid": f"{base}.TextGrid"}


class TextReport(BaseModel):
    """What ``validate`` answers instead of an alignment: are the texts usable as they are?"""

    file_id: UUID
    text_name: str
    words_total: int
    oov: list[str]
    oov_guessed: list[str]
    oov_unpronounceable: list[str]
    ready: bool
    guessed: list[Pronunciation] = []  # with the pronunciation that would be used
    from_job_dictionary: list[str] = []


@dataclass(frozen=True)
class Lexicon:
    """How a transcript's words are pronounced for one job: the job's own pronunciations
    (under the names the engine gave them), and which words were guessed, and how."""

    names: dict[str, str]  # word -> the name it is aligned under (the job's pronunciation)
    guessed: tuple[Pronunciation, ...]
    notes: list[str]

    def name(self, key: str) -> str:
        return self.names.get(key, key)

    def outside(self, engine: Engine, token: Token) -> bool:
        """Whether the word is in neither the engine's dictionary nor the job's (its
        pronunciation was guessed, or none could be)."""
        if token.key in self.names:
            return False
        return token.key in self.guessed_words or not engine.knows(token.key)

    @cached_property
    def guessed_words(self) -> frozenset[str]:
        return frozenset(g.word for g in self.guessed)


def lexicon(engine: Engine, keys: list[str], pronunciations: dict[str, list[str]]) -> Lexicon:
    """Blocking (the engine learns): call in a thread. Words outside the engine's
    dictionary and the job's are guessed where the engine can."""
    used = {k: pronunciations[k] for k in dict.fromkeys(keys) if k in pronunciations}
    names: dict[str, str] = {}
    notes: list[str] = []
    if used and isinstance(engine, DefinesWords):
        names = engine.define(used)
        if len(names) < len(used):
            notes.append(f"{len(used) - len(names)} of the job's pronunciations were not usable")
    elif used:
        notes.append(f"the {engine.name} engine does not use a job's own pronunciations")
    rest = [k for k in dict.fromkeys(keys) if k not in names]
    engine.learn(rest)
    guessed = engine.guessed(rest) if isinstance(engine, DefinesWords) else {}
    return Lexicon(
        names,
        tuple(Pronunciation(word=w, phones=p) for w, p in sorted(guessed.items())),
        notes,
    )


class FileAligner:
    def __init__(self, objects: Objects, long_audio: LongAudioAligner) -> None:
        self._objects = objects
        self._long_audio = long_audio

    async def validate(
        self,
        engine: Engine,
        user_id: UUID,
        job_id: UUID,
        file: StoredFile,
        pronunciations: dict[str, list[str]] | None = None,
        transcript_format: str = "text",
    ) -> tuple[TextReport, dict[str, str]]:
        text = (await self._objects.get_bytes(file.text_key)).decode("utf-8")
        tokens = ipa_tokens(text) if transcript_format == "ipa" else tokenize(text)
        words = await asyncio.to_thread(
            lexicon, engine, [t.key for t in tokens], pronunciations or {}
        )
        oov = sorted({t.key for t in tokens if words.outside(engine, t)})
        guessed = [w for w in oov if engine.knows(w)]
        report = TextReport(
            file_id=file.corpus_file_id,
            text_name=file.text_name,
            words_total=len(tokens),
            oov=oov,
            oov_guessed=guessed,
            oov_unpronounceable=[w for w in oov if w not in guessed],
            ready=bool(tokens) and all(engine.knows(w) for w in oov),
            guessed=list(words.guessed),
            from_job_dictionary=sorted(words.names),
        )
        key = result_keys(user_id, job_id, file.corpus_file_id)["json"].replace(
            ".json", ".validation.json"
        )
        await self._objects.put_bytes(
            key, report.model_dump_json(indent=1).encode(), "application/json"
        )
        return report, {"validation": key}

    async def align(
        self,
        engine: Engine,
        user_id: UUID,
        job_id: UUID,
        language: str,
        file: StoredFile,
        progress: Callable[[float], Coroutine[Any, Any, None]] | None = None,
        pronunciations: dict[str, list[str]] | None = None,
        transcript_format: str = "text",
    ) -> tuple[AlignmentResult, dict[str, str]]:
        """``pronunciations``: the job's own, which extend or override the engine's;
        ``transcript_format`` "ipa": the transcript is IPA words (espeak-phones reads them)."""
        text = (await self._objects.get_bytes(file.text_key)).decode("utf-8")
        tokens = ipa_tokens(text) if transcript_format == "ipa" else tokenize(text)
        words = await asyncio.to_thread(
            lexicon, engine, [t.key for t in tokens], pronunciations or {}
        )
        oov = [t.text for t in tokens if words.outside(engine, t)]
        known = [t for t in tokens if t.key in words.names or engine.knows(t.key)]
        if not known:
            raise EngineFailed("none of the transcript's words has a pronunciation")
        loop = asyncio.get_running_loop()
        reported = 0

        def report(share: float) -> None:  # called from the aligning thread
            nonlocal reported
            if progress is not None and int(share * PROGRESS_STEPS) > reported:
                reported = int(share * PROGRESS_STEPS)
                asyncio.run_coroutine_threadsafe(progress(share), loop).result()

        with tempfile.TemporaryDirectory(prefix="aligner-") as folder:
            # On disk, not in memory: an hour of audio is read a window at a time.
            audio = Path(folder) / "audio.wav"
            await self._objects.download(file.audio_key, audio)
            source = WavFile(audio)
            names = [words.name(t.key) for t in known]
            started = time.perf_counter()
            output = await asyncio.to_thread(
                self._long_audio.align, engine, source, names, language, report
            )
            observe_alignment(engine.name, time.perf_counter() - started, source.duration)
        aligned = [
            AlignedWord(
                word=t.text,
                start=round(w.start, 3),
                end=round(w.end, 3),
                score=w.score,
                confidence=w.confidence,
                sentence=t.sentence,
            )
            for t, w in zip(known, output.words, strict=True)
        ]
        result = AlignmentResult(
            file_id=file.corpus_file_id,
            audio_name=file.audio_name,
            text_name=file.text_name,
            duration=round(source.duration, 4),
            engine=engine.name,
            language=language,
            words=aligned,
            phones=[
                AlignedPhone(
                    phone=p.phone,
                    start=round(p.start, 3),
                    end=round(p.end, 3),
                    word_index=p.word_index,
                    confidence=p.confidence,
                )
                for p in output.phones
            ],
            oov=oov,
            guessed=list(words.guessed),
            from_job_dictionary=sorted(words.names),
            quality=assess(
                aligned,
                len(tokens),
                guessed=len(words.guessed),
                coarse=output.coarse_words,
                notes=[*words.notes, *output.notes],
            ),
        )
        keys = result_keys(user_id, job_id, file.corpus_file_id)
        await self._objects.put_bytes(
            keys["json"], result.model_dump_json(indent=1).encode(), "application/json"
        )
        await self._objects.put_bytes(keys["textgrid"], to_textgrid(result), "text/plain")
        return result, keys
