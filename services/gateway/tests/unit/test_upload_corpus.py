"""The multipart side of corpora: a ``corpus`` part goes whole to a temporary file (not to
storage) however its bytes are cut, within its limit; it comes alone; and the file names
of ``audio_files[]`` / ``text_files[]`` keep their folders, made safe."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import AsyncIterator
from typing import cast

import pytest

from gateway_service.adapters.upload import BadUpload, MultipartUpload, UploadLimits, UploadTooLarge
from servicekit.fakes import InMemoryObjects
from servicekit.objects import Objects

BOUNDARY = "b0undary-7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
LIMITS = UploadLimits(
    max_file_bytes=1 << 20,
    max_request_bytes=1 << 22,
    max_files_per_field=10,
    max_corpus_bytes=1 << 20,
)


def corpus_zip(size: int = 200_000) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("spk1/utt1.wav", b"RIFF" + random.Random(1).randbytes(size))
        archive.writestr("spk1/utt1.txt", b"hello world\n")
    return buffer.getvalue()


def body(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunks(data: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    at, n = 0, 0
    while at < len(data):
        size = sizes[n % len(sizes)]
        yield data[at : at + size]
        at, n = at + size, n + 1


async def receive(
    data: bytes, sizes: list[int] | None = None, limits: UploadLimits = LIMITS
) -> tuple[MultipartUpload, InMemoryObjects]:
    store = InMemoryObjects()
    upload = MultipartUpload(cast(Objects, store), lambda f, i: f"in/{f}-{i}", limits)
    await upload.receive(CONTENT_TYPE, chunks(data, sizes or [65536]))
    return upload, store


@pytest.mark.parametrize("sizes", [[1 << 16], [1, 7, 13, 509], [3 << 20]])
async def test_a_corpus_part_is_spooled_whole_and_nothing_is_stored(sizes: list[int]) -> None:
    archive = corpus_zip()
    upload, store = await receive(
        body(("language", None, b"en"), ("corpus", "my corpus.zip", archive)), sizes
    )
    try:
        assert upload.corpus is not None and upload.corpus.size == len(archive)
        upload.corpus.file.seek(0)
        assert upload.corpus.file.read() == archive
        assert upload.files == [] and store.objects == {}
        assert upload.fields == {"language": "en"}
    finally:
        upload.close()
    assert upload.corpus.file.closed


async def test_a_corpus_part_without_a_file_name_is_a_corpus_too() -> None:
    upload, _ = await receive(body(("corpus", None, corpus_zip(10))))
    assert upload.corpus is not None and upload.corpus.size > 0
    upload.close()


async def test_a_corpus_over_its_limit_is_refused_while_streaming() -> None:
    store = InMemoryObjects()
    upload = MultipartUpload(cast(Objects, store), lambda f, i: f"in/{f}-{i}", LIMITS)
    with pytest.raises(UploadTooLarge, match="corpus"):
        await upload.receive(
            CONTENT_TYPE, chunks(body(("corpus", "c.zip", corpus_zip(1 << 21))), [65536])
        )
    assert upload.corpus is not None and upload.corpus.file.closed


@pytest.mark.parametrize(
    "parts",
    [
        [("corpus", "c.zip", b"PK"), ("audio_files[]", "a.wav", b"RIFF")],
        [("audio_files[]", "a.wav", b"RIFF"), ("corpus", "c.zip", b"PK")],
        [("corpus", "c.zip", b"PK"), ("corpus", "d.zip", b"PK")],
    ],
)
async def test_a_corpus_comes_alone(parts: list[tuple[str, str | None, bytes]]) -> None:
    store = InMemoryObjects()
    upload = MultipartUpload(cast(Objects, store), lambda f, i: f"in/{f}-{i}", LIMITS)
    with pytest.raises(BadUpload, match="either one corpus zip"):
        await upload.receive(CONTENT_TYPE, chunks(body(*parts), [65536]))
    assert store.objects == {}
    assert upload.corpus is None or upload.corpus.file.closed


async def test_file_names_keep_their_folders_made_safe() -> None:
    upload, _ = await receive(
        body(
            ("audio_files[]", "speaker1/utt1.wav", b"RIFF"),
            ("text_files[]", "../../speaker1/utt1.txt", b"hello"),
            ("audio_files[]", "/abs/./x//utt2.wav", b"RIFF"),
        )
    )
    assert [f.filename for f in upload.files] == [
        "speaker1/utt1.wav",
        "speaker1/utt1.txt",
        "abs/x/utt2.wav",
    ]


async def test_a_file_name_of_only_dots_is_no_name() -> None:
    store = InMemoryObjects()
    upload = MultipartUpload(cast(Objects, store), lambda f, i: f"in/{f}-{i}", LIMITS)
    with pytest.raises(BadUpload, match="no file name"):
        await upload.receive(CONTENT_TYPE, chunks(body(("audio_files[]", "../..", b"RIFF")), [99]))
    assert store.objects == {}
