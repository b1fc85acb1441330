"""Unpacking a corpus zip into the upload: its audio and transcripts go to object storage
as the parts of ``audio_files[]`` and ``text_files[]`` would, names and folders kept, so
the rest of a submit (pairing, JobSubmitted) is the same for both."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial

from gateway_service.adapters.corpus_zip import CorpusArchive, Spool
from gateway_service.adapters.upload import UploadedFile, UploadLimits
from gateway_service.domain.corpus import (
    ByteBudget,
    CorpusFile,
    CorpusLimits,
    CorpusRefused,
    plan_corpus,
)
from gateway_service.domain.pairing import pair_by_stem
from servicekit.logs import get_logger
from servicekit.objects import Objects

__all__ = ["corpus_limits", "unpack_corpus"]

log = get_logger(__name__)

FIELDS = {"audio": "audio_files", "text": "text_files"}
CONTENT_TYPES = {"audio": "audio/octet-stream", "text": "text/plain"}
ENTRIES_AT_ONCE = 4  # entries extracted side by side (S3 round trips overlap)
ENTRIES_PER_PAIR = 4  # audio and text, and the __MACOSX twin macOS adds to each


def corpus_limits(limits: UploadLimits) -> CorpusLimits:
    """The zip's limits from the upload's (the tighter of the gateway's and the plan's)."""
    return CorpusLimits(
        max_entries=min(
            limits.max_corpus_entries, ENTRIES_PER_PAIR * limits.max_files_per_field + 64
        ),
        max_files_per_kind=limits.max_files_per_field,
        max_entry_bytes=limits.max_file_bytes,
        max_total_bytes=limits.max_corpus_bytes,
        max_ratio=limits.max_compression_ratio,
    )


async def unpack_corpus(
    objects: Objects, spool: Spool, key_for: Callable[[str, int], str], limits: CorpusLimits
) -> list[UploadedFile]:
    """Check the whole zip from its central directory (and that its files pair up), then
    extract its audio and transcripts, a few at a time. Raises ``CorpusRefused`` or
    ``PairingError``; whatever was stored by then is deleted."""
    archive = await asyncio.to_thread(
        CorpusArchive.open, spool.file, spool.size, limits.max_entries
    )
    keys: list[str] = []  # each one before its upload starts: a part cut short is deleted too
    try:
        plan = plan_corpus(archive.entries, limits, spool.size)
        pair_by_stem([f.name for f in plan.audio], [f.name for f in plan.text])
        budget = ByteBudget(limits, spool.size)

        async def extract(index: int, f: CorpusFile) -> UploadedFile:
            key = key_for(FIELDS[f.kind], index)
            keys.append(key)
            reader = archive.reader(f.entry, budget)
            size = await objects.put_stream(key, reader, CONTENT_TYPES[f.kind])
            return UploadedFile(FIELDS[f.kind], index, f.name, key, size)

        work = [(i, f) for group in (plan.audio, plan.text) for i, f in enumerate(group)]
        files = await _side_by_side([partial(extract, i, f) for i, f in work], ENTRIES_AT_ONCE)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await objects.delete(keys)
        if isinstance(exc, CorpusRefused):
            log.info("corpus.refused", code=exc.code.value, archive_bytes=spool.size)
        raise
    finally:
        archive.close()
    log.info("corpus.unpacked", files=len(files), skipped=len(plan.skipped), bytes=budget.total)
    return files


async def _side_by_side(
    jobs: list[Callable[[], Awaitable[UploadedFile]]], at_once: int
) -> list[UploadedFile]:
    """Each job's result, in order, with at most ``at_once`` running at a time. The first
    failure cancels the rest, and is raised once none of them runs any more."""
    results: dict[int, UploadedFile] = {}
    queue = iter(enumerate(jobs))

    async def worker() -> None:
        for n, job in queue:
            results[n] = await job()

    workers = [asyncio.ensure_future(worker()) for _ in range(min(at_once, len(jobs)))]
    try:
        if workers:
            await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        for task in workers:
            if task.done() and task.exception() is not None:
                task.result()  # raises it
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return [results[n] for n in range(len(jobs))]
