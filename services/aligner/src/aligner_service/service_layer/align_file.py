"""Aligns one stored pair and writes its results: JSON (the model) and TextGrid."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from aligner_service.adapters.textgrid import to_textgrid
from aligner_service.domain.quality import assess
from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import Engine, EngineFailed
from aligner_service.engines.long_audio import LongAudioAligner, WavFile
from contracts import StoredFile
from contracts.results import AlignedPhone, AlignedWord, AlignmentResult
from servicekit.objects import Objects

__all__ = ["FileAligner", "result_keys"]

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


class FileAligner:
    def __init__(self, objects: Objects, long_audio: LongAudioAligner) -> None:
        self._objects = objects
        self._long_audio = long_audio

    async def validate(
        self, engine: Engine, user_id: UUID, job_id: UUID, file: StoredFile
    ) -> tuple[TextReport, dict[str, str]]:
        tokens = tokenize((await self._objects.get_bytes(file.text_key)).decode("utf-8"))
        oov = sorted({t.key for t in tokens if not engine.knows(t.key)})
        guessed = await asyncio.to_thread(engine.learn, oov)
        report = TextReport(
            file_id=file.corpus_file_id,
            text_name=file.text_name,
            words_total=len(tokens),
            oov=oov,
            oov_guessed=guessed,
            oov_unpronounceable=[w for w in oov if w not in guessed],
            ready=bool(tokens) and all(engine.knows(w) for w in oov),
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
    ) -> tuple[AlignmentResult, dict[str, str]]:
        tokens = tokenize((await self._objects.get_bytes(file.text_key)).decode("utf-8"))
        oov = [t.text for t in tokens if not engine.knows(t.key)]
        guessed = await asyncio.to_thread(engine.learn, [t.key for t in tokens])
        known = [t for t in tokens if engine.knows(t.key)]
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
            output = await asyncio.to_thread(
                self._long_audio.align, engine, source, [t.key for t in known], language, report
            )
        words = [
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
            words=words,
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
            quality=assess(
                words,
                len(tokens),
                guessed=len(guessed),
                coarse=output.coarse_words,
                notes=output.notes,
            ),
        )
        keys = result_keys(user_id, job_id, file.corpus_file_id)
        await self._objects.put_bytes(
            keys["json"], result.model_dump_json(indent=1).encode(), "application/json"
        )
        await self._objects.put_bytes(keys["textgrid"], to_textgrid(result), "text/plain")
        return result, keys
