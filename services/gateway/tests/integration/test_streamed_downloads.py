"""The download workflows against a real S3 server: audio whole and in ranges, segments,
results one by one and zipped, read in bounded chunks, with the bytes the gateway sent
when it read them whole; a stream closed early gives its connection back at once."""

from __future__ import annotations

import asyncio
import io
import random
import secrets
import wave
import zipfile
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from aiohttp import ClientSession, TCPConnector
from miniopy_async.api import Minio

from contracts.results import AlignedPhone, AlignedWord, AlignmentQuality, AlignmentResult
from devstack.testing import Infrastructure
from gateway_service.adapters.formats import render
from gateway_service.adapters.repository import FileRecord
from gateway_service.adapters.wav import parse_header, segment_range, wav_bytes
from gateway_service.api.streaming import primed
from gateway_service.domain.jobs import FileStatus
from gateway_service.domain.ranges import RangeNotSatisfiable
from gateway_service.service_layer import downloads
from gateway_service.service_layer.downloads import SUFFIXES, Download, safe_name
from servicekit.objects import ObjectMissing, Objects

pytestmark = pytest.mark.integration

AUDIO = random.Random(3).randbytes(3 * 2**20 + 17)  # not a multiple of any chunk size


def _client(infrastructure: Infrastructure, session: ClientSession | None = None) -> Minio:
    return Minio(
        infrastructure.s3_endpoint,
        access_key=infrastructure.s3_access_key,
        secret_key=infrastructure.s3_secret_key,
        secure=False,
        session=session,
    )


@pytest.fixture
async def objects(infrastructure: Infrastructure) -> AsyncIterator[Objects]:
    """A bucket of its own holding ``audio.wav`` (AUDIO), removed afterwards."""
    client = _client(infrastructure)
    bucket = "t" + secrets.token_hex(6)
    await client.make_bucket(bucket)
    store = Objects(client, bucket)
    await store.put_bytes("audio.wav", AUDIO, "audio/wav")
    try:
        yield store
    finally:
        await store.delete_prefix("")
        await client.remove_bucket(bucket)
        await client.close_session()  # type: ignore[no-untyped-call]


async def _body(download: Download) -> bytes:
    """What the response sends: primed first, as the routes do."""
    return b"".join([chunk async for chunk in await primed(download.body)])


async def test_an_object_streams_in_bounded_chunks(objects: Objects) -> None:
    stream = await objects.stream("audio.wav", chunk_size=64 * 1024)
    assert stream.length == len(AUDIO)
    chunks = []
    async with stream:
        async for chunk in stream:
            chunks.append(chunk)
    assert stream.closed
    assert b"".join(chunks) == AUDIO
    assert max(len(c) for c in chunks) <= 64 * 1024


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        (None, 0, len(AUDIO) - 1),
        ("bytes=0-0", 0, 0),
        (f"bytes={len(AUDIO) - 1}-{len(AUDIO) - 1}", len(AUDIO) - 1, len(AUDIO) - 1),
        ("bytes=-1", len(AUDIO) - 1, len(AUDIO) - 1),
        ("bytes=-70000", len(AUDIO) - 70000, len(AUDIO) - 1),
        ("bytes=1000000-", 1000000, len(AUDIO) - 1),
        ("bytes=1000000-2000000", 1000000, 2000000),
        ("bytes=100-999999999", 100, len(AUDIO) - 1),
    ],
)
async def test_audio_is_the_bytes_the_range_asks_for(
    objects: Objects, header: str | None, first: int, last: int
) -> None:
    download = await downloads.audio(objects, "audio.wav", header)
    assert download.length == last - first + 1
    expected_range = None if header is None else f"bytes {first}-{last}/{len(AUDIO)}"
    assert download.content_range == expected_range
    assert await _body(download) == AUDIO[first : last + 1]


@pytest.mark.parametrize("header", [f"bytes={len(AUDIO)}-", "bytes=-0", "bytes=9-3"])
async def test_an_unsatisfiable_range_is_refused_with_the_size(
    objects: Objects, header: str
) -> None:
    with pytest.raises(RangeNotSatisfiable) as refused:
        await downloads.audio(objects, "audio.wav", header)
    assert refused.value.size == len(AUDIO)


async def test_a_missing_object_is_refused_before_any_byte(objects: Objects) -> None:
    with pytest.raises(ObjectMissing):
        await objects.stream("nothing-here.wav")
    for header in (None, "bytes=0-9"):
        with pytest.raises(ObjectMissing):
            await downloads.audio(objects, "nothing-here.wav", header)


async def test_closing_a_stream_early_frees_its_connection(
    infrastructure: Infrastructure,
) -> None:
    """With one connection in the pool, a stream left open blocks every other request;
    closed after a chunk (the client went away), the next request runs at once."""
    client = _client(infrastructure, ClientSession(connector=TCPConnector(limit=1)))
    bucket = "t" + secrets.token_hex(6)
    await client.make_bucket(bucket)
    store = Objects(client, bucket)
    try:
        await store.put_bytes("audio.wav", AUDIO, "audio/wav")
        stream = await store.stream("audio.wav")
        async for _ in stream:
            break
        with pytest.raises(TimeoutError):  # the one connection is still the stream's
            await asyncio.wait_for(store.get_bytes("audio.wav", 0, 4), 1)
        stream.close()
        assert await asyncio.wait_for(store.get_bytes("audio.wav", 0, 4), 5) == AUDIO[:4]
    finally:
        await store.delete_prefix("")
        await client.remove_bucket(bucket)
        await client.close_session()  # type: ignore[no-untyped-call]


def _wav(seconds: float) -> bytes:
    frames = random.Random(5).randbytes(int(16000 * seconds) * 2)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(frames)
    return out.getvalue()


@pytest.mark.parametrize(("start", "end"), [(0.5, 1.25), (0.0, 3.0), (1.2345, 2.0), (0.0, 1e-5)])
async def test_a_segment_is_the_wav_cut_as_before(
    objects: Objects, start: float, end: float
) -> None:
    audio = _wav(3.0)
    await objects.put_bytes("speech.wav", audio, "audio/wav")
    download = await downloads.segment(objects, "speech.wav", start, end)
    layout = parse_header(audio[:4096])
    offset, length = segment_range(layout, start, end)
    before = wav_bytes(layout, audio[offset : offset + length])
    body = await _body(download)
    assert body == before
    assert download.length == len(before)


@pytest.mark.parametrize(
    ("start", "end", "why"),
    [(2.0, 1.0, "before end"), (0.0, 601.0, "at most 600 s"), (1.0, 3.5, "end is past it")],
)
async def test_an_impossible_segment_is_refused(
    objects: Objects, start: float, end: float, why: str
) -> None:
    await objects.put_bytes("speech.wav", _wav(3.0), "audio/wav")
    with pytest.raises(downloads.InvalidSegment, match=why):
        await downloads.segment(objects, "speech.wav", start, end)


async def test_audio_that_is_no_wav_cannot_be_cut(objects: Objects) -> None:
    with pytest.raises(downloads.NotCuttable):
        await downloads.segment(objects, "audio.wav", 0.0, 1.0)


def _result(n: int) -> AlignmentResult:
    words = [AlignedWord(word=f"w{n}-{i}", start=i * 0.5, end=i * 0.5 + 0.4) for i in range(40)]
    phones = [
        AlignedPhone(phone="ah", start=w.start, end=w.end, word_index=i)
        for i, w in enumerate(words)
    ]
    return AlignmentResult(
        file_id=uuid4(),
        audio_name=f"utt{n}.wav",
        text_name=f"utt{n}.txt",
        duration=20.0,
        engine="pocketsphinx",
        language="en",
        words=words,
        phones=phones,
        quality=AlignmentQuality(words_total=40, words_aligned=40, aligned_share=1.0),
    )


async def _aligned_files(objects: Objects, stems: list[str]) -> list[FileRecord]:
    files = []
    for n, stem in enumerate(stems):
        keys = {"json": f"results/{n}.json", "textgrid": f"results/{n}.TextGrid"}
        await objects.put_bytes(keys["json"], _result(n).model_dump_json().encode(), "x/y")
        textgrid = f'File type = "ooTextFile"\n{stem}\n'.encode() * 3000
        await objects.put_bytes(keys["textgrid"], textgrid, "x/y")
        files.append(
            FileRecord(
                uuid4(), n, stem, f"{n}.wav", f"{n}.txt", FileStatus.ALIGNED, 20.0, None, keys
            )
        )
    return files


async def _old_result(objects: Objects, f: FileRecord, fmt: str, level: str) -> bytes:
    """A file's result as the gateway read it before: whole."""
    if fmt in f.result_keys:
        return await objects.get_bytes(f.result_keys[fmt])
    result = AlignmentResult.model_validate_json(await objects.get_bytes(f.result_keys["json"]))
    return render(result, fmt, level, f.stem)


@pytest.mark.parametrize("fmt", ["json", "textgrid", "csv", "srt", "vtt"])
async def test_a_result_zip_has_the_members_and_bytes_of_the_old_one(
    objects: Objects, fmt: str
) -> None:
    files = await _aligned_files(objects, ["spk1/utt1", "utt2", "../caf\u00e9"])
    download = downloads.result_archive(objects, files, fmt, "sentence")
    assert download.length is None and download.content_range is None
    archive = zipfile.ZipFile(io.BytesIO(await _body(download)))
    assert archive.testzip() is None
    names = [safe_name(f.stem) + SUFFIXES[fmt] for f in files]
    assert archive.namelist() == names == [f"spk1/utt1{SUFFIXES[fmt]}", *names[1:]]
    for f, name in zip(files, names, strict=True):
        assert archive.read(name) == await _old_result(objects, f, fmt, "sentence")


@pytest.mark.parametrize("fmt", ["json", "textgrid", "csv"])
async def test_one_result_is_the_file_as_before(objects: Objects, fmt: str) -> None:
    [f] = await _aligned_files(objects, ["utt1"])
    download = await downloads.result_file(objects, f, fmt, "word")
    body = await _body(download)
    assert body == await _old_result(objects, f, fmt, "word")
    assert download.length == len(body)


async def test_a_zip_whose_first_result_is_gone_fails_before_any_byte(objects: Objects) -> None:
    files = await _aligned_files(objects, ["utt1", "utt2"])
    await objects.delete([files[0].result_keys["textgrid"]])
    with pytest.raises(ObjectMissing):
        await primed(downloads.result_archive(objects, files, "textgrid", "word").body)


async def test_a_validation_report_is_json_only(objects: Objects) -> None:
    await objects.put_bytes("report.json", b'{"words_total": 6}', "application/json")
    files = [
        FileRecord(uuid4(), n, f"u{n}", "a.wav", "a.txt", FileStatus.ALIGNED, 1.0, None, keys)
        for n, keys in enumerate([{"validation": "report.json"}] * 2)
    ]
    archive = zipfile.ZipFile(
        io.BytesIO(await _body(downloads.result_archive(objects, files, "json", "word")))
    )
    assert [archive.read(n) for n in archive.namelist()] == [b'{"words_total": 6}'] * 2
    with pytest.raises(downloads.ValidationOnly):
        await primed(downloads.result_archive(objects, files, "textgrid", "word").body)
    with pytest.raises(downloads.ValidationOnly):
        await downloads.result_file(objects, files[0], "csv", "word")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    async def read(self, size: int) -> bytes:
        return self._data.read(size)


@pytest.mark.parametrize("parts", [1.0, 2.0, 2.5])
async def test_an_upload_of_whole_parts_or_not_is_stored_whole(
    objects: Objects, parts: float
) -> None:
    """An upload whose size is an exact multiple of the part size ends on an empty read
    (miniopy-async's parallel path failed there)."""
    part = 5 << 20  # S3's smallest part
    data = random.randbytes(int(part * parts))
    stored = await objects.put_stream("upload.bin", _Reader(data), "audio/wav", part_size=part)
    assert stored == len(data)
    assert await objects.get_bytes("upload.bin") == data
