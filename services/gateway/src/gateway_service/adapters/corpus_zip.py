"""A corpus zip on disk: spooled to a temporary file as it arrives, its central directory
read with zipfile, and each entry read back a slice at a time in a worker thread (the
event loop never decompresses), counted as it comes out."""

from __future__ import annotations

import asyncio
import struct
import tempfile
import zipfile
import zlib
from typing import IO

from gateway_service.domain.corpus import (
    MAGIC_PROBE_BYTES,
    ByteBudget,
    CorpusErrorCode,
    CorpusRefused,
    ZipEntry,
    archive_kind,
)

__all__ = ["CorpusArchive", "EntryReader", "Spool"]

SPOOL_WRITE_BYTES = 1 << 20  # what a worker thread writes at once
READ_BYTES = 1 << 20  # what a worker thread decompresses at once
CENTRAL_ENTRY_MAX_BYTES = 1024  # a central directory entry with a 512-character name, extras
END_RECORD = b"PK\x05\x06"
END_RECORD_BYTES = 22
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_END_RECORD = b"PK\x06\x06"
# What zipfile raises on a truncated, corrupt or hostile archive.
BROKEN: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    ValueError,
    OSError,
    struct.error,
    NotImplementedError,
    RuntimeError,
)


class Spool:
    """A part's bytes in an unnamed temporary file (gone when closed, or if the process
    dies), written a MiB at a time from a worker thread."""

    def __init__(self) -> None:
        # Under TMPDIR; open for as long as the upload needs it (``close``).
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.size = 0
        self._buffer = bytearray()

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self._buffer += data
        if len(self._buffer) >= SPOOL_WRITE_BYTES:
            await self.flush()

    async def flush(self) -> None:
        data = bytes(self._buffer)
        self._buffer.clear()
        if data:
            await asyncio.to_thread(self.file.write, data)

    def close(self) -> None:
        self.file.close()


class CorpusArchive:
    """The zip's entries as its central directory lists them. Open it in a worker thread
    (``asyncio.to_thread(CorpusArchive.open, ...)``): it reads the disk."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive
        infos = archive.infolist()
        self.entries = [_entry(info) for info in infos]
        self._infos = {id(e): info for e, info in zip(self.entries, infos, strict=True)}

    @classmethod
    def open(cls, file: IO[bytes], size: int, max_entries: int) -> CorpusArchive:
        """Raises ``CorpusRefused``: not a zip, or a central directory over the limit (read
        from the end record first, so that a huge one is never loaded)."""
        declared = _declared_entries(file, size)
        if declared is not None:
            entries, directory_bytes = declared
            if entries > max_entries or directory_bytes > max_entries * CENTRAL_ENTRY_MAX_BYTES:
                raise CorpusRefused(
                    CorpusErrorCode.TOO_MANY_ENTRIES,
                    f"the zip has {entries} entries; at most {max_entries} are allowed",
                )
        try:
            file.seek(0)
            return cls(zipfile.ZipFile(file))
        except BROKEN as exc:
            raise CorpusRefused(
                CorpusErrorCode.INVALID, f"the corpus is not a readable zip file ({exc})"
            ) from exc

    def reader(self, entry: ZipEntry, budget: ByteBudget) -> EntryReader:
        """``entry`` is one of ``entries``."""
        return EntryReader(self._archive, self._infos[id(entry)], entry, budget)

    def close(self) -> None:
        self._archive.close()


class EntryReader:
    """An entry's bytes as they decompress (``Objects.put_stream`` reads it): each slice
    decompressed in a worker thread, then counted by the budget (on the event loop, so
    that entries read side by side share it safely), the first bytes checked for an
    archive inside."""

    def __init__(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, entry: ZipEntry, budget: ByteBudget
    ) -> None:
        self._archive = archive
        self._info = info
        self._entry = entry
        self._budget = budget
        self._member: IO[bytes] | None = None
        self._head = b""
        self.size = 0
        self._eof = False

    async def read(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size and not self._eof:
            data = await asyncio.to_thread(self._decompress, min(size - len(out), READ_BYTES))
            self._count(data)
            out += data
        return bytes(out)

    def _decompress(self, wanted: int) -> bytes:
        try:
            if self._member is None:
                self._member = self._archive.open(self._info)
            data = self._member.read(wanted)
        except BROKEN as exc:
            raise CorpusRefused(
                CorpusErrorCode.INVALID,
                f"the entry {self._entry.name!r} is damaged ({exc})",
                {"entry": self._entry.name},
            ) from exc
        if not data:
            self._eof = True
            self._member.close()
        return data

    def _count(self, data: bytes) -> None:
        self._budget.take(self._entry, self.size, len(data))
        self.size += len(data)
        if len(self._head) < MAGIC_PROBE_BYTES:
            self._head += data[: MAGIC_PROBE_BYTES - len(self._head)]
            if self._eof or len(self._head) == MAGIC_PROBE_BYTES:
                self._check_head()

    def _check_head(self) -> None:
        kind = archive_kind(self._head)
        if kind is not None:
            raise CorpusRefused(
                CorpusErrorCode.NESTED_ARCHIVE,
                f"the entry {self._entry.name!r} is a {kind} archive: send one zip of plain files",
                {"entry": self._entry.name},
            )


def _entry(info: zipfile.ZipInfo) -> ZipEntry:
    return ZipEntry(
        name=info.filename,
        compressed=info.compress_size,
        size=info.file_size,
        offset=info.header_offset,
        mode=info.external_attr >> 16,
        flags=info.flag_bits,
        method=info.compress_type,
        is_dir=info.is_dir(),
        name_intact="\x00" not in info.orig_filename,
    )


def _declared_entries(file: IO[bytes], size: int) -> tuple[int, int] | None:
    """(entries, central directory bytes) as the end record says, or None where there is
    none to read (zipfile then says what is wrong)."""
    tail_bytes = min(size, END_RECORD_BYTES + 0xFFFF)  # the record, and a comment at most
    file.seek(size - tail_bytes)
    tail = file.read(tail_bytes)
    at = tail.rfind(END_RECORD)
    if at < 0 or len(tail) - at < END_RECORD_BYTES:
        return None
    entries, directory_bytes = struct.unpack_from("<HI", tail, at + 10)
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:  # zip64: the real ones are further
        locator = at - 20
        if locator < 0 or tail[locator : locator + 4] != ZIP64_LOCATOR:
            return None
        (record_at,) = struct.unpack_from("<Q", tail, locator + 8)
        file.seek(record_at)
        record = file.read(56)
        if len(record) < 56 or record[:4] != ZIP64_END_RECORD:
            return None
        entries, directory_bytes = struct.unpack_from("<QQ", record, 32)
    return int(entries), int(directory_bytes)
