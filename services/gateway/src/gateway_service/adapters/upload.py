"""Streams a multipart/form-data upload: each file part goes straight to object storage
(one S3 part in memory at a time), small fields are kept, limits bite while streaming.
A ``corpus`` part (a zip) goes to a temporary file instead, to be unpacked afterwards."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from gateway_service.adapters.corpus_zip import Spool
from gateway_service.domain.pairing import clean_name
from servicekit.objects import Objects

__all__ = ["BadUpload", "MultipartUpload", "UploadLimits", "UploadTooLarge", "UploadedFile"]

FILE_FIELDS = ("audio_files", "text_files", "dictionary")
CORPUS_FIELD = "corpus"
MAX_FIELD_BYTES = 4096
QUEUE_CHUNKS = 16
ONE_WAY = "send either one corpus zip or audio_files[] and text_files[], not both"


class BadUpload(Exception):
    pass


class UploadTooLarge(Exception):
    pass


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_request_bytes: int
    max_files_per_field: int
    max_corpus_bytes: int = 4 * 2**30  # a corpus zip, and its files uncompressed
    max_corpus_entries: int = 10_000
    max_compression_ratio: float = 200.0


@dataclass
class UploadedFile:
    field: str
    index: int  # position among the files of its field
    filename: str
    key: str
    size: int = 0


class _PartStream:
    """Bytes of one part, handed from the request parser to its upload task."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(QUEUE_CHUNKS)
        self._buffer = bytearray()
        self._eof = False

    async def feed(self, item: bytes | BaseException | None) -> None:
        await self._queue.put(item)

    def put_nowait(self, item: BaseException) -> None:
        self._queue.put_nowait(item)

    async def read(self, size: int) -> bytes:
        while len(self._buffer) < size and not self._eof:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                raise item
            if item is None:
                self._eof = True
            else:
                self._buffer += item
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


@dataclass
class _Part:
    name: str = ""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_name: bytearray = field(default_factory=bytearray)  # of the header being read
    header_value: bytearray = field(default_factory=bytearray)
    file: UploadedFile | None = None
    stream: _PartStream | None = None
    upload: asyncio.Task[int] | None = None
    spool: Spool | None = None
    value: bytearray = field(default_factory=bytearray)

    def end_header(self) -> None:
        """The header's name and value are complete (each may have come in fragments)."""
        self.headers[bytes(self.header_name).lower()] = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()


class MultipartUpload:
    def __init__(
        self,
        objects: Objects,
        key_for: Callable[[str, int], str],
        limits: UploadLimits,
        on_field: Callable[[dict[str, str]], Awaitable[None]] | None = None,
    ) -> None:
        """``on_field`` hears the fields so far each time one is complete, and may refuse
        the upload there (what it raises aborts it)."""
        self._objects = objects
        self._key_for = key_for
        self._limits = limits
        self._on_field = on_field
        self.files: list[UploadedFile] = []
        self.fields: dict[str, str] = {}
        self.corpus: Spool | None = None  # the corpus zip, on disk until closed
        self._stored: list[str] = []
        self._part = _Part()
        self._complete = False  # the closing boundary has come

    async def receive(self, content_type: str, body: AsyncIterator[bytes]) -> None:
        """Consume the whole body. On any error, nothing of it stays in storage."""
        kind, options = parse_options_header(content_type)
        if kind != b"multipart/form-data" or b"boundary" not in options:
            raise BadUpload("the body must be multipart/form-data")
        # The parser calls back with fragments: a header's name or value, like part data,
        # comes in pieces when it spans two chunks of the body.
        events: list[tuple[str, bytes]] = []
        try:
            parser = MultipartParser(
                options[b"boundary"],
                callbacks={
                    "on_part_begin": lambda: events.append(("begin", b"")),
                    "on_header_field": lambda d, s, e: events.append(("name", d[s:e])),
                    "on_header_value": lambda d, s, e: events.append(("value", d[s:e])),
                    "on_header_end": lambda: events.append(("header", b"")),
                    "on_headers_finished": lambda: events.append(("headers", b"")),
                    "on_part_data": lambda d, s, e: events.append(("data", bytes(d[s:e]))),
                    "on_part_end": lambda: events.append(("end", b"")),
                    "on_end": lambda: events.append(("complete", b"")),
                },
            )
        except Exception as exc:  # e.g. a boundary longer than RFC 2046 allows
            raise BadUpload(f"malformed multipart body: {exc}") from exc
        received = 0
        try:
            async for chunk in body:
                received += len(chunk)
                if received > self._limits.max_request_bytes:
                    raise UploadTooLarge(
                        f"the request is larger than {self._limits.max_request_bytes} bytes"
                    )
                try:
                    parser.write(chunk)
                except Exception as exc:  # the parser's own errors: a malformed body
                    raise BadUpload(f"malformed multipart body: {exc}") from exc
                for event, data in events:
                    await self._on(event, data)
                events.clear()
            parser.finalize()
            if not self._complete:
                raise BadUpload("the body ended before its closing boundary")
        except BaseException:
            await self._abort(self._part)
            raise

    def close(self) -> None:
        """Remove the corpus zip's temporary file, if there is one."""
        if self.corpus is not None:
            self.corpus.close()

    async def _on(self, event: str, data: bytes) -> None:
        part = self._part
        if event == "begin":
            self._part = _Part()
        elif event == "name":
            part.header_name += data
        elif event == "value":
            part.header_value += data
        elif event == "header":
            part.end_header()
        elif event == "headers":
            await self._start_part(part)
        elif event == "data":
            await self._part_data(part, data)
        elif event == "end":
            await self._end_part(part)
        elif event == "complete":
            self._complete = True

    async def _start_part(self, part: _Part) -> None:
        _, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = options.get(b"name", b"").decode("utf-8", "replace").removesuffix("[]")
        if part.name == CORPUS_FIELD:  # a file, with a file name or not
            self._start_corpus(part)
            return
        if b"filename" not in options:
            return
        if part.name not in FILE_FIELDS:
            raise BadUpload(
                f"unexpected file field '{part.name}': use audio_files[], text_files[] "
                "and dictionary, or one corpus zip"
            )
        if self.corpus is not None:
            raise BadUpload(ONE_WAY)
        filename = clean_name(options[b"filename"].decode("utf-8", "replace"))
        if not filename:
            raise BadUpload(f"a file in {part.name}[] has no file name")
        index = sum(f.field == part.name for f in self.files)
        if index >= self._limits.max_files_per_field:
            raise UploadTooLarge(
                f"at most {self._limits.max_files_per_field} files per job in {part.name}[]"
            )
        part.file = UploadedFile(part.name, index, filename, self._key_for(part.name, index))
        part.stream = _PartStream()
        content_type = "audio/octet-stream" if part.name == "audio_files" else "text/plain"
        part.upload = asyncio.create_task(
            self._objects.put_stream(part.file.key, part.stream, content_type)
        )
        self._stored.append(part.file.key)

    def _start_corpus(self, part: _Part) -> None:
        if self.corpus is not None or self._stored:
            raise BadUpload(ONE_WAY)
        part.spool = self.corpus = Spool()

    async def _part_data(self, part: _Part, data: bytes) -> None:
        if part.spool is not None:
            if part.spool.size + len(data) > self._limits.max_corpus_bytes:
                raise UploadTooLarge(
                    f"the corpus is larger than the limit of {self._limits.max_corpus_bytes} bytes"
                )
            await part.spool.write(data)
            return
        if part.file is None:
            part.value += data
            if len(part.value) > MAX_FIELD_BYTES:
                raise BadUpload(f"the field '{part.name}' is longer than {MAX_FIELD_BYTES} bytes")
            return
        part.file.size += len(data)
        if part.file.size > self._limits.max_file_bytes:
            raise UploadTooLarge(
                f"{part.name}[{part.file.index}] '{part.file.filename}' is larger than "
                f"the limit of {self._limits.max_file_bytes} bytes"
            )
        assert part.stream is not None and part.upload is not None
        # Wait for room in the queue, unless the upload itself has failed meanwhile.
        put = asyncio.ensure_future(part.stream.feed(data))
        await asyncio.wait({put, part.upload}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()
            part.upload.result()  # raises the upload's error

    async def _end_part(self, part: _Part) -> None:
        if part.spool is not None:
            await part.spool.flush()
            return
        if part.file is None:
            self.fields[part.name] = part.value.decode("utf-8", "replace").strip()
            if self._on_field is not None:
                await self._on_field(self.fields)
            return
        assert part.stream is not None and part.upload is not None
        await part.stream.feed(None)
        await part.upload
        self.files.append(part.file)

    async def _abort(self, part: _Part) -> None:
        if part.upload is not None and not part.upload.done():
            assert part.stream is not None
            try:  # the upload reads the error and aborts its multipart upload
                part.stream.put_nowait(BadUpload("upload aborted"))
            except asyncio.QueueFull:
                part.upload.cancel()
            with contextlib.suppress(BaseException):
                await part.upload
        with contextlib.suppress(Exception):
            await self._objects.delete(self._stored)
        self.close()
