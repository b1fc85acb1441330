"""MultipartUpload gives the same files and fields however the body is cut into chunks,
and a malformed body fails with BadUpload or UploadTooLarge, leaving nothing stored."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterable
from typing import cast

import pytest

from gateway_service.adapters.upload import (
    BadUpload,
    MultipartUpload,
    UploadLimits,
    UploadTooLarge,
)
from servicekit.fakes import InMemoryObjects
from servicekit.objects import Objects

BOUNDARY = b"----WebKitFormBoundary7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY.decode()}"
LIMITS = UploadLimits(max_file_bytes=1 << 20, max_request_bytes=1 << 22, max_files_per_field=100)
FIELDS = {"language": "en", "engine": "pocketsphinx"}


def _payload(rng: random.Random, size: int) -> bytes:
    """Random bytes salted with things that look like (but are not) the boundary."""
    while True:
        data = bytearray(rng.randbytes(size))
        for lookalike in (b"\r\n--", b"\r\n--" + BOUNDARY[:-1] + b"X", b"\r\n\r\n"):
            at = rng.randrange(size)
            data[at:at] = lookalike
        if b"\r\n--" + BOUNDARY not in data:  # lookalikes side by side can make the real one
            return bytes(data)


def _files() -> list[tuple[str, str, str, bytes]]:
    """(field, filename, content type, data) of 10 audio/text pairs, in upload order."""
    rng = random.Random(6)
    files: list[tuple[str, str, str, bytes]] = []
    for n in range(10):
        stem = f"spk{n % 3 + 1}/utt{n + 1:02d}"
        files.append(("audio_files", f"{stem}.wav", "audio/wav", _payload(rng, 120 + 19 * n)))
        text = f"utterance {n}: she had your dark suit\r\n--in greasy wash water\r\n"
        files.append(("text_files", f"{stem}.txt", "text/plain", text.encode()))
    return files


def _body(files: Iterable[tuple[str, str, str, bytes]], boundary: bytes = BOUNDARY) -> bytes:
    def field(name: str, value: str) -> bytes:
        disposition = f'Content-Disposition: form-data; name="{name}"'
        return b"--" + boundary + f"\r\n{disposition}\r\n\r\n{value}\r\n".encode()

    parts = [field("language", FIELDS["language"])]
    for name, filename, content_type, data in files:
        head = (
            f'Content-Disposition: form-data; name="{name}[]"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(b"--" + boundary + b"\r\n" + head.encode() + data + b"\r\n")
    parts.append(field("engine", FIELDS["engine"]))
    return b"".join(parts) + b"--" + boundary + b"--\r\n"


FILES = _files()
BODY = _body(FILES)


async def _chunks(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def _cut(body: bytes, sizes: Iterable[int]) -> list[bytes]:
    pieces: list[bytes] = []
    at = 0
    for size in sizes:
        if at >= len(body):
            break
        pieces.append(body[at : at + size])
        at += size
    return pieces


async def _receive(
    pieces: list[bytes], limits: UploadLimits = LIMITS, content_type: str = CONTENT_TYPE
) -> tuple[MultipartUpload, InMemoryObjects]:
    store = InMemoryObjects()
    upload = MultipartUpload(cast(Objects, store), lambda f, i: f"in/{f}-{i}", limits)
    await upload.receive(content_type, _chunks(pieces))
    return upload, store


async def _assert_received(
    pieces: list[bytes], what: str, files: list[tuple[str, str, str, bytes]] = FILES
) -> None:
    upload, store = await _receive(pieces)
    assert upload.fields == FIELDS, what
    assert len(upload.files) == len(files), what
    counts = {"audio_files": 0, "text_files": 0}
    for got, (name, filename, _, data) in zip(upload.files, files, strict=True):
        assert (got.field, got.index, got.filename, got.size) == (
            name,
            counts[name],
            filename,
            len(data),
        ), what
        assert got.key == f"in/{name}-{counts[name]}", what
        assert store.objects[got.key] == data, what
        counts[name] += 1
    assert set(store.objects) == {f.key for f in upload.files}, what


async def _assert_refused(
    pieces: list[bytes],
    what: str,
    limits: UploadLimits = LIMITS,
    content_type: str = CONTENT_TYPE,
) -> None:
    store = InMemoryObjects()
    upload = MultipartUpload(cast(Objects, store), lambda f, i: f"in/{f}-{i}", limits)
    with pytest.raises((BadUpload, UploadTooLarge)):
        await upload.receive(content_type, _chunks(pieces))
    assert store.objects == {}, what
    leftover = asyncio.all_tasks() - {asyncio.current_task()}
    assert not leftover, f"{what}: tasks left running {leftover}"


async def test_the_whole_body_in_one_chunk() -> None:
    await _assert_received([BODY], "one chunk")


async def test_every_split_into_two_chunks_gives_the_same_upload() -> None:
    # Each run costs an upload task per file: two chunks at every offset of all 10 pairs
    # would take a minute, so this is every offset of a body with each kind of part
    # (field, audio, text, closing boundary), and the next test cuts the whole body
    # at every offset.
    files = FILES[:4]
    short = _body(files)
    for at in range(1, len(short)):
        await _assert_received([short[:at], short[at:]], f"2 pairs split at {at}", files)


@pytest.mark.parametrize("stride", [61, 127])
async def test_every_offset_of_the_whole_body_as_a_cut(stride: int) -> None:
    """Run r cuts at every offset that is r modulo the stride, so over the runs every
    offset is a cut once; 127 is longer than any header line, so, as with two chunks,
    no header is cut twice."""
    for first in range(1, stride + 1):
        pieces = [BODY[:first], *_cut(BODY[first:], [stride] * len(BODY))]
        await _assert_received(pieces, f"{stride}-byte chunks after {first}")


async def test_one_byte_chunks() -> None:
    await _assert_received(_cut(BODY, [1] * len(BODY)), "1-byte chunks")


async def test_random_chunk_sizes() -> None:
    rng = random.Random(66)
    for run in range(50):
        sizes = [rng.choice((1, 2, 3, 7, 13, 61, 509, 4096)) for _ in range(len(BODY))]
        await _assert_received(_cut(BODY, sizes), f"run {run}")


async def test_a_body_cut_short_stores_nothing() -> None:
    short = _body(FILES[:4])  # every kind of part, at every offset, in less time
    for at in range(len(short) - 2):  # the final CRLF is optional
        await _assert_refused([short[:at]], f"2 pairs truncated at {at}")
    for at in range(0, len(BODY) - 2, 61):
        await _assert_refused([BODY[:at]], f"truncated at {at}")
        await _assert_refused(_cut(BODY[:at], [13] * at), f"truncated at {at}, 13-byte chunks")


@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("garbage", random.Random(1).randbytes(3000)),
        ("text garbage", b"hello world, this is not multipart\r\n" * 50),
        ("wrong boundary", _body(FILES, b"----SomeOtherBoundary12345")),
        (
            "header without a colon",
            BODY.replace(b"Content-Type: audio/wav", b"Content-Type audio/wav", 3),
        ),
        ("huge header name", BODY.replace(b"Content-Type:", b"X-" + b"a" * 9000 + b":", 5)),
        (
            "huge header value",
            BODY.replace(b"Content-Type: text/plain", b"Content-Type: text/plain" + b";" * 9000),
        ),
        ("an unknown file field", BODY.replace(b'name="text_files[]"', b'name="other[]"', 3)),
        ("a file with no name", BODY.replace(b'filename="spk2/utt05.wav"', b'filename=""')),
        ("no closing boundary", BODY[: -len(BOUNDARY) - 6] + b"\r\n"),
    ],
)
async def test_a_malformed_body_is_refused_and_stores_nothing(what: str, body: bytes) -> None:
    assert body != BODY, "the case changed nothing"
    for pieces in ([body], _cut(body, [61] * len(body)), _cut(body, [1] * len(body))):
        await _assert_refused(pieces, what)


async def test_a_file_over_the_limit_stores_nothing() -> None:
    small = UploadLimits(max_file_bytes=300, max_request_bytes=1 << 22, max_files_per_field=100)
    for size in (1, 7, 509):
        await _assert_refused(_cut(BODY, [size] * len(BODY)), f"{size}-byte chunks", small)
    tight = UploadLimits(max_file_bytes=1 << 20, max_request_bytes=5000, max_files_per_field=100)
    await _assert_refused(_cut(BODY, [61] * len(BODY)), "request over the limit", tight)


async def test_a_wrong_content_type_is_refused() -> None:
    await _assert_refused([BODY], "no boundary", content_type="multipart/form-data")
    await _assert_refused([BODY], "not multipart", content_type="application/octet-stream")
    await _assert_refused(
        [BODY], "boundary too long", content_type=f"multipart/form-data; boundary={'b' * 300}"
    )


class Refused(Exception):
    pass


async def test_a_field_can_refuse_the_upload_before_the_files_after_it() -> None:
    """A submit's language (sent first) refuses the job before its files are uploaded."""
    store = InMemoryObjects()
    seen: list[dict[str, str]] = []

    async def on_field(fields: dict[str, str]) -> None:
        seen.append(dict(fields))
        raise Refused(fields["language"])

    upload = MultipartUpload(
        cast(Objects, store), lambda f, i: f"in/{f}-{i}", LIMITS, on_field=on_field
    )
    with pytest.raises(Refused):
        await upload.receive(CONTENT_TYPE, _chunks(_cut(BODY, [509] * len(BODY))))
    assert seen == [{"language": "en"}]
    assert store.objects == {} and upload.files == []
