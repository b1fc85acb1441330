"""Object storage as the services use it: files in and out, ranges, prefixes removed."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from aiohttp import ClientResponse
from miniopy_async.api import Minio
from miniopy_async.deleteobjects import DeleteObject
from miniopy_async.error import S3Error

__all__ = ["STREAM_CHUNK_BYTES", "ListedObject", "ObjectMissing", "ObjectStream", "Objects"]

STREAM_CHUNK_BYTES = 256 * 1024


class ObjectMissing(Exception):
    pass


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    last_modified: datetime  # UTC, zone-aware


class AsyncReader(Protocol):
    async def read(self, size: int) -> bytes: ...


class _Prepend:
    """``head`` first, then the rest of ``stream``; counts what was read."""

    def __init__(self, head: bytes, stream: AsyncReader) -> None:
        self._head = head
        self._stream = stream
        self.total = 0

    async def read(self, size: int) -> bytes:
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
        else:
            data = await self._stream.read(size)
        self.total += len(data)
        return data


class ObjectStream:
    """An object's bytes (or a range of them) as S3 sends them, in chunks of at most
    ``chunk_size``: memory stays flat whatever the object's size. Use it as an async
    context manager, or call ``close()``: closing before the end drops the S3 connection
    (the rest is not read), so a client that goes away costs nothing more."""

    def __init__(self, response: ClientResponse, chunk_size: int = STREAM_CHUNK_BYTES) -> None:
        self._response = response
        self._chunk_size = chunk_size
        declared = response.headers.get("Content-Length", "")
        self.length = int(declared) if declared.isdigit() else None  # the bytes it will give

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.content.iter_chunked(self._chunk_size):
            yield chunk

    async def read_all(self) -> bytes:
        """The whole body, for small objects only."""
        async with self:
            return bytes(await self._response.read())

    def close(self) -> None:
        self._response.release()  # idempotent; mid-body it closes the connection

    @property
    def closed(self) -> bool:
        return bool(self._response.closed)

    async def __aenter__(self) -> ObjectStream:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Objects:
    def __init__(self, client: Minio, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    async def download(self, key: str, target: Path) -> None:
        try:
            await self._client.fget_object(self._bucket, key, str(target))
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject"}:
                raise ObjectMissing(key) from exc
            raise

    async def upload(self, key: str, source: Path, content_type: str) -> None:
        await self._client.fput_object(self._bucket, key, str(source), content_type=content_type)

    async def delete(self, keys: list[str]) -> None:
        if not keys:
            return
        async for error in self._client.remove_objects(
            self._bucket, [DeleteObject(key) for key in keys]
        ):
            raise RuntimeError(f"could not delete {error.name}: {error.message}")

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        await self._client.put_object(
            self._bucket, key, io.BytesIO(data), len(data), content_type=content_type
        )

    async def put_stream(
        self, key: str, stream: AsyncReader, content_type: str, part_size: int = 8 << 20
    ) -> int:
        """Upload from ``stream`` holding at most one part in memory; returns the size."""
        head = await stream.read(part_size)
        if len(head) < part_size:  # small (or empty): one plain PUT
            await self.put_bytes(key, head, content_type)
            return len(head)
        counted = _Prepend(head, stream)
        await self._client.put_object(
            self._bucket,
            key,
            counted,  # type: ignore[arg-type]
            -1,
            content_type=content_type,
            part_size=part_size,
            # One part at a time (one in memory), and the way miniopy-async finishes a
            # stream whose length is an exact multiple of the part size: its parallel
            # path fails there with an IndexError.
            num_parallel_uploads=1,
        )
        return counted.total

    async def get_bytes(self, key: str, offset: int = 0, length: int = 0) -> bytes:
        """The object (or ``length`` bytes from ``offset``; 0 means to the end)."""
        return await (await self.stream(key, offset, length)).read_all()

    async def stream(
        self, key: str, offset: int = 0, length: int = 0, chunk_size: int = STREAM_CHUNK_BYTES
    ) -> ObjectStream:
        """The object (or ``length`` bytes from ``offset``; 0 means to the end), opened:
        a missing object raises ``ObjectMissing`` here, before any byte is read."""
        try:
            response: Any = await self._client.get_object(
                self._bucket, key, offset=offset, length=length
            )
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject"}:
                raise ObjectMissing(key) from exc
            raise
        return ObjectStream(response, chunk_size)

    async def size(self, key: str) -> int:
        try:
            stat = await self._client.stat_object(self._bucket, key)
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject"}:
                raise ObjectMissing(key) from exc
            raise
        return int(stat.size or 0)

    async def keys(self, prefix: str) -> list[str]:
        return [
            o.object_name
            async for o in self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
            if o.object_name
        ]

    async def listing(self, prefix: str) -> list[ListedObject]:
        """The objects under ``prefix`` with their size and time of last change."""
        return [
            ListedObject(
                o.object_name,
                int(o.size or 0),
                (o.last_modified or datetime.now(UTC)).astimezone(UTC),
            )
            async for o in self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
            if o.object_name
        ]

    async def close(self) -> None:
        """Release the client's HTTP session (a one-off command, before its loop ends)."""
        await self._client.close_session()  # type: ignore[no-untyped-call]

    async def delete_prefix(self, prefix: str) -> int:
        names = await self.keys(prefix)
        await self.delete(names)
        return len(names)
