"""Aligns one stored pair and writes its results: JSON (the model) and TextGrid."""

from __future__ import annotations

import asyncio
import io
import wave
from uuid import UUID

from pydantic import BaseModel

from aligner_service.adapters.textgrid import to_textgrid
from aligner_service.domain.quality import assess
from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import Engine, EngineFailed
from contracts import StoredFile
from contracts.results import AlignedPhone, AlignedWord, AlignmentResult
from servicekit.objects import Objects

__all__ = ["FileAligner", "result_keys"]

SAMPLE_RATE = 16_000


def result_keys(user_id: UUID, job_id: UUID, file_id: UUID) -> dict[str, str]:
    base = f"{user_id}/results/{job_id}/{file_id}"
    return {"json": f"{base}.json", "textgrid": f"{base}.TextGrid"}


def _pcm(wav_bytes: bytes) -> bytes:
    with wave.open(io.BytesIO(wav_bytes), "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise EngineFailed("the stored audio is not 16 kHz mono 16-bit PCM")
        return wav.readframes(wav.getnframes())


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
    def __init__(self, objects: Objects) -> None:
        self._objects = objects

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
        self, engine: Engine, user_id: UUID, job_id: UUID, language: str, file: StoredFile
    ) -> tuple[AlignmentResult, dict[str, str]]:
        pcm = _pcm(await self._objects.get_bytes(file.audio_key))
        tokens = tokenize((await self._objects.get_bytes(file.text_key)).decode("utf-8"))
        oov = [t.text for t in tokens if not engine.knows(t.key)]
        guessed = await asyncio.to_thread(engine.learn, [t.key for t in tokens])
        known = [t for t in tokens if engine.knows(t.key)]
        if not known:
            raise EngineFailed("none of the transcript's words has a pronunciation")
        output = await asyncio.to_thread(engine.align, pcm, [t.key for t in known], language)
        words = [
            AlignedWord(
                word=t.text,
                start=round(w.start, 3),
                end=round(w.end, 3),
                score=w.score,
                sentence=t.sentence,
            )
            for t, w in zip(known, output.words, strict=True)
        ]
        result = AlignmentResult(
            file_id=file.corpus_file_id,
            audio_name=file.audio_name,
            text_name=file.text_name,
            duration=round(len(pcm) / 2 / SAMPLE_RATE, 4),
            engine=engine.name,
            language=language,
            words=words,
            phones=[
                AlignedPhone(
                    phone=p.phone,
                    start=round(p.start, 3),
                    end=round(p.end, 3),
                    word_index=p.word_index,
                )
                for p in output.phones
            ],
            oov=oov,
            quality=assess(words, len(tokens), guessed=len(guessed)),
        )
        keys = result_keys(user_id, job_id, file.corpus_file_id)
        await self._objects.put_bytes(
            keys["json"], result.model_dump_json(indent=1).encode(), "application/json"
        )
        await self._objects.put_bytes(keys["textgrid"], to_textgrid(result), "text/plain")
        return result, keys
