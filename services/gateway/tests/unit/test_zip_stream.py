"""A zip written as it is sent: a valid archive with the members and bytes that the whole
archive built in memory (as the gateway did before) had, read a chunk at a time, and
closing what it holds when it ends or is abandoned."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator

import pytest

from gateway_service.adapters.zip_stream import Member, ZipOutOfStep, _Feed, zip_stream

CHUNK = 64 * 1024


def _contents() -> dict[str, bytes]:
    rng = random.Random(4)
    return {
        "spk1/utt01.TextGrid": ('File type = "ooTextFile"\n' * 4000).encode(),
        "utt02.json": rng.randbytes(300_000),  # incompressible: bigger deflated than not
        "empty.json": b"",
        "caf\u00e9 \u00e0 la cr\u00e8me.csv": "file,tier\n\u00e9t\u00e9,words\n".encode(),
        "one-byte.srt": b"1",
    }


def _old_archive(contents: dict[str, bytes]) -> bytes:
    """The result zip as the gateway built it before, whole in memory."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
    return archive.getvalue()


async def _chunks(data: bytes, size: int = CHUNK) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


async def _members(
    contents: dict[str, bytes], *, sized: bool = True
) -> AsyncGenerator[Member, None]:
    for name, data in contents.items():
        yield Member(name, _chunks(data), len(data) if sized else None)


async def _archive(members: AsyncGenerator[Member, None]) -> bytes:
    return b"".join([piece async for piece in zip_stream(members)])


@pytest.mark.parametrize("sized", [True, False], ids=["sizes-known", "sizes-unknown"])
async def test_the_streamed_zip_has_the_members_and_bytes_of_the_old_one(sized: bool) -> None:
    contents = _contents()
    streamed = zipfile.ZipFile(io.BytesIO(await _archive(_members(contents, sized=sized))))
    before = zipfile.ZipFile(io.BytesIO(_old_archive(contents)))
    assert streamed.testzip() is None  # every member's CRC checks
    assert streamed.namelist() == before.namelist() == list(contents)
    for name in contents:
        assert streamed.read(name) == before.read(name) == contents[name]
        assert streamed.getinfo(name).compress_type == zipfile.ZIP_DEFLATED


async def test_an_archive_of_no_member_is_an_empty_zip() -> None:
    async def none() -> AsyncGenerator[Member, None]:
        return
        yield  # an async generator of nothing

    assert zipfile.ZipFile(io.BytesIO(await _archive(none()))).namelist() == []


async def test_a_member_is_read_a_chunk_at_a_time_as_the_archive_is_sent() -> None:
    """Each chunk is read only once the archive before it has been sent, and no piece of
    the archive is bigger than a chunk and its deflate overhead: memory stays flat."""
    read = 0
    chunks = 300  # 19 MB of audio-like bytes

    async def big() -> AsyncIterator[bytes]:
        nonlocal read
        rng = random.Random(9)
        for _ in range(chunks):
            read += 1
            yield rng.randbytes(CHUNK)

    async def members() -> AsyncGenerator[Member, None]:
        yield Member("big.wav", big(), chunks * CHUNK)

    sent = largest = ahead = 0
    async for piece in zip_stream(members()):
        sent += len(piece)
        largest = max(largest, len(piece))
        ahead = max(ahead, read * CHUNK - sent)  # read from the source, not sent yet
    assert read == chunks and sent > chunks * CHUNK
    assert ahead <= 2 * CHUNK
    assert largest <= CHUNK + 1024


async def test_abandoning_the_archive_closes_its_members() -> None:
    closed: list[str] = []

    async def members() -> AsyncGenerator[Member, None]:
        try:
            yield Member("a.json", _chunks(b"x" * (10 * CHUNK), 1000))
            yield Member("b.json", _chunks(b"y"))
        finally:
            closed.append("members")

    archive = zip_stream(members())
    await anext(archive)
    await anext(archive)
    await archive.aclose()  # what the response does when the client goes away
    assert closed == ["members"]


def test_the_feed_refuses_to_let_the_zip_writer_run_ahead_or_fall_behind() -> None:
    feed = _Feed()
    with pytest.raises(ZipOutOfStep):
        next(feed)  # asked for data not lent yet: never taken for the member's end
    feed.lend(b"a")
    with pytest.raises(ZipOutOfStep):
        feed.lend(b"b")  # the chunk before was not taken
    assert next(feed) == b"a"
    feed.finish()
    assert list(feed) == []
