"""What the download routes send, as streams from S3: the audio (whole, a byte range, or a
segment cut out of it) and the results (one file, or a zip of the corpus).

The gateway holds a chunk at a time whatever the file's size. Only results rendered on the
fly (csv, srt, vtt) are built whole, one file at a time: rendering needs the whole JSON.
Each download is opened before it is returned, so a missing object (``ObjectMissing``) or
an unreachable S3 fails while the client can still get an error instead of a cut body."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from contracts.results import AlignmentResult
from gateway_service.adapters.formats import RENDERED_FORMATS, render
from gateway_service.adapters.repository import FileRecord
from gateway_service.adapters.wav import (
    HEADER_PROBE_BYTES,
    NotCanonicalWav,
    parse_header,
    segment_range,
    wav_header,
)
from gateway_service.adapters.zip_stream import Member, zip_stream
from gateway_service.domain.ranges import parse_range
from servicekit.objects import Objects, ObjectStream

__all__ = [
    "MAX_SEGMENT_SECONDS",
    "SUFFIXES",
    "Download",
    "InvalidSegment",
    "NotCuttable",
    "ValidationOnly",
    "audio",
    "result_archive",
    "result_file",
    "safe_name",
    "segment",
]

MAX_SEGMENT_SECONDS = 600.0
SUFFIXES = {"json": ".json", "textgrid": ".TextGrid"} | {
    name: suffix for name, (_, suffix) in RENDERED_FORMATS.items()
}


class ValidationOnly(Exception):
    """A validate-only job has its report (JSON) as its one result."""


class NotCuttable(Exception):
    """The stored audio is not a WAV whose frames we can find."""


class InvalidSegment(Exception):
    pass


@dataclass
class Download:
    body: AsyncGenerator[bytes, None]
    length: int | None = None  # the body's size, where known before sending it
    content_range: str | None = None  # a part of the file (206), as Content-Range says it


async def audio(objects: Objects, key: str, range_header: str | None) -> Download:
    """The stored WAV, or the one byte range ``range_header`` asks for (raises
    ``RangeNotSatisfiable``)."""
    if range_header is None:
        stream = await objects.stream(key)
        return Download(_sent(stream), stream.length)
    wanted = parse_range(range_header, await objects.size(key))
    stream = await objects.stream(key, wanted.first, wanted.length)
    return Download(_sent(stream), stream.length, wanted.content_range)


async def segment(objects: Objects, key: str, start: float, end: float) -> Download:
    """A WAV of exactly ``start`` to ``end`` seconds, its frames sent as they come."""
    if start >= end:
        raise InvalidSegment("start must be before end")
    if end - start > MAX_SEGMENT_SECONDS:
        raise InvalidSegment(f"a segment lasts at most {MAX_SEGMENT_SECONDS:.0f} s")
    try:
        layout = parse_header(await objects.get_bytes(key, 0, HEADER_PROBE_BYTES))
    except NotCanonicalWav as exc:
        raise NotCuttable("the stored audio cannot be cut") from exc
    if end > layout.duration + 1e-9:
        raise InvalidSegment(f"the audio lasts {layout.duration:.3f} s; end is past it")
    offset, length = segment_range(layout, start, end)
    if not length:
        header = wav_header(layout, 0)
        return Download(_once(header), len(header))
    stream = await objects.stream(key, offset, length)
    size = length if stream.length is None else stream.length
    header = wav_header(layout, size)
    return Download(_sent(stream, header), len(header) + size)


async def result_file(objects: Objects, f: FileRecord, fmt: str, level: str) -> Download:
    """One aligned file's result: stored ones as S3 sends them, rendered ones whole."""
    key = _stored_key(f, fmt)
    if key is None:
        body = await _rendered(objects, f, fmt, level)
        return Download(_once(body), len(body))
    stream = await objects.stream(key)
    return Download(_sent(stream), stream.length)


def result_archive(objects: Objects, files: Sequence[FileRecord], fmt: str, level: str) -> Download:
    """A zip of the files' results, written as it is sent (its size is not known before)."""
    return Download(zip_stream(_members(objects, files, fmt, level)))


def safe_name(stem: str) -> str:
    """A relative path with no empty, ``.`` or ``..`` parts (zip members, file names)."""
    parts = [p for p in stem.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "file"


async def _members(
    objects: Objects, files: Sequence[FileRecord], fmt: str, level: str
) -> AsyncGenerator[Member, None]:
    for f in files:
        name = safe_name(f.stem) + SUFFIXES[fmt]
        key = _stored_key(f, fmt)
        if key is None:
            body = await _rendered(objects, f, fmt, level)
            yield Member(name, _once(body), len(body))
            continue
        async with await objects.stream(key) as stream:  # released once the zip moves on
            yield Member(name, stream, stream.length)


def _stored_key(f: FileRecord, fmt: str) -> str | None:
    """The key of the result as stored, or None when it is rendered from the JSON."""
    if "validation" in f.result_keys:  # a validate-only job: its report is the result
        if fmt != "json":
            raise ValidationOnly("this job only validated its texts: use json")
        return f.result_keys["validation"]
    return f.result_keys.get(fmt)  # json and TextGrid are stored by the aligner


async def _rendered(objects: Objects, f: FileRecord, fmt: str, level: str) -> bytes:
    result = AlignmentResult.model_validate_json(await objects.get_bytes(f.result_keys["json"]))
    return render(result, fmt, level, f.stem)


async def _sent(stream: ObjectStream, head: bytes = b"") -> AsyncGenerator[bytes, None]:
    async with stream:  # released at the end, on an error, or when the client goes away
        async for chunk in stream:
            yield head + chunk if head else chunk  # a failing first read fails the request
            head = b""
        if head:
            yield head


async def _once(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data
