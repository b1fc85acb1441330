"""Zip archives written as they are sent (zipstream-ng): members one after another, each
as the chunks it arrives in, so an archive costs a chunk of memory whatever its size."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from contextlib import aclosing
from dataclasses import dataclass

from zipstream import ZIP_DEFLATED, ZipStream  # type: ignore[import-untyped]

__all__ = ["Member", "ZipOutOfStep", "zip_stream"]


class ZipOutOfStep(RuntimeError):
    """zipstream-ng took a member's data other than one chunk per piece it gave back: a
    version we have not checked. Raised rather than writing a broken archive."""


@dataclass(frozen=True)
class Member:
    name: str
    chunks: AsyncIterable[bytes]
    size: int | None = None  # when known, the member needs no zip64 extra fields


class _Feed:
    """A member's data as zipstream-ng reads it: one chunk lent at a time.

    ZipStream pulls a member's data from a (synchronous) iterator and gives back one piece
    of archive per chunk it pulls. We lend it each chunk just before asking for that piece,
    so the chunks can come from asynchronous reads (S3) without a thread."""

    def __init__(self) -> None:
        self._chunk: bytes | None = None
        self._done = False

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> bytes:
        if self._chunk is not None:
            chunk, self._chunk = self._chunk, None
            return chunk
        if self._done:
            raise StopIteration
        raise ZipOutOfStep("the zip writer asked for data before it was lent")

    def lend(self, chunk: bytes) -> None:
        if self._chunk is not None:
            raise ZipOutOfStep("the zip writer left a chunk unread")
        self._chunk = chunk

    def finish(self) -> None:
        self._done = True


async def zip_stream(members: AsyncGenerator[Member, None]) -> AsyncGenerator[bytes, None]:
    """The archive of ``members`` (deflated), piece by piece. ``members`` is closed when
    the archive ends or is abandoned, so whatever it holds open for a member is released."""
    archive = ZipStream(compress_type=ZIP_DEFLATED)
    async with aclosing(members):
        async for member in members:
            feed = _Feed()
            archive.add(feed, member.name, size=member.size)
            entry = archive.file()
            yield next(entry)  # the local file header
            async for chunk in member.chunks:
                feed.lend(chunk)
                piece: bytes = next(entry)
                if piece:  # deflate keeps small inputs back until it has enough
                    yield piece
            feed.finish()
            for piece in entry:  # what deflate kept back, and the data descriptor
                if piece:
                    yield piece
    for piece in archive.footer():  # the central directory
        yield piece
