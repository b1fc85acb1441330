"""Object storage as the services use it: files in and out, ranges, prefixes removed."""

from __future__ import annotations

import io
from pathlib import Path

from miniopy_async.api import Minio
from miniopy_async.deleteobjects import DeleteObject
from miniopy_async.error import S3Error

__all__ = ["ObjectMissing", "Objects"]


class ObjectMissing(Exception):
    pass


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

    async def get_bytes(self, key: str, offset: int = 0, length: int = 0) -> bytes:
        """The object (or ``length`` bytes from ``offset``; 0 means to the end)."""
        try:
            response = await self._client.get_object(
                self._bucket, key, offset=offset, length=length
            )
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject"}:
                raise ObjectMissing(key) from exc
            raise
        try:
            return bytes(await response.read())
        finally:
            response.release()

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

    async def delete_prefix(self, prefix: str) -> int:
        names = await self.keys(prefix)
        await self.delete(names)
        return len(names)
