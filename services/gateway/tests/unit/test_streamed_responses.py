"""Streamed responses: a failure before the first byte is still a JSON error (503 for an
unreachable S3), the body is closed at once when the client goes away, and the account
export streamed page by page is byte for byte what FastAPI wrote for the whole model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import aiohttp
import httpx
import pytest
from fastapi import FastAPI, Response
from starlette.requests import ClientDisconnect
from starlette.types import Message

from contracts.rpc import PlanLimits, UserProfile
from gateway_service.adapters.repository import FileRecord, JobRecord
from gateway_service.adapters.wav import WavLayout, wav_bytes, wav_header
from gateway_service.api.errors import install_error_handlers
from gateway_service.api.streaming import streamed
from gateway_service.api.users import AccountExport, QuotaOut, Usage, export_json
from gateway_service.api.views import job_out
from gateway_service.domain.jobs import FileStatus, JobStatus
from gateway_service.service_layer.downloads import Download


class Source:
    """A body that counts what it gave and knows whether it was closed."""

    def __init__(self, chunks: int = 1000) -> None:
        self.chunks = chunks
        self.given = 0
        self.closed = False

    async def body(self) -> AsyncGenerator[bytes, None]:
        try:
            for _ in range(self.chunks):
                self.given += 1
                yield b"x" * 1000
        finally:
            self.closed = True


def _app(body: AsyncGenerator[bytes, None], download: dict[str, Any]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/download")
    async def download_route() -> Response:
        return await streamed(Download(body, **download), "audio/wav", {"Accept-Ranges": "bytes"})

    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await client.get("/download")


@pytest.mark.parametrize(
    "error",
    [aiohttp.ClientConnectionError("S3 is away"), ConnectionRefusedError("S3 is away")],
    ids=["aiohttp", "socket"],
)
async def test_s3_failing_before_the_first_byte_is_a_503_json_error(error: Exception) -> None:
    async def failing() -> AsyncGenerator[bytes, None]:
        raise error
        yield b""  # an async generator

    response = await _get(_app(failing(), {}))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response.headers["retry-after"] == "5"


async def test_a_whole_file_has_its_length_and_a_part_its_range() -> None:
    whole = await _get(_app(Source(5).body(), {"length": 5000}))
    assert whole.status_code == 200 and whole.content == b"x" * 5000
    assert whole.headers["content-length"] == "5000"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    assert "content-range" not in whole.headers

    part = await _get(
        _app(Source(2).body(), {"length": 2000, "content_range": "bytes 10-2009/9000"})
    )
    assert part.status_code == 206 and len(part.content) == 2000
    assert part.headers["content-range"] == "bytes 10-2009/9000"
    assert part.headers["content-length"] == "2000"


async def test_an_empty_body_is_an_empty_response() -> None:
    empty = await _get(_app(Source(0).body(), {"length": 0}))
    assert empty.status_code == 200 and empty.content == b""


SCOPE = {"type": "http", "method": "GET", "path": "/", "headers": []}


async def test_the_body_is_closed_when_the_client_goes_away() -> None:
    """ASGI 2.3 (uvicorn's): the server says ``http.disconnect``; the body is closed at
    once, while the response (and so the body) is still referenced."""
    source = Source()
    response = await streamed(Download(source.body()), "audio/wav", {})
    gone = asyncio.Event()
    sent: list[Message] = []

    async def receive() -> Message:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if len(sent) == 4:  # headers and three chunks, then the client leaves
            gone.set()
            await asyncio.sleep(60)  # a client that reads no more

    async with asyncio.timeout(10):
        await response({**SCOPE, "asgi": {"spec_version": "2.3"}}, receive, send)
    assert source.closed
    assert source.given < 10


async def test_the_body_is_closed_when_sending_fails() -> None:
    """ASGI 2.4: sending to a client that went away raises OSError."""
    source = Source()
    response = await streamed(Download(source.body()), "audio/wav", {})
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.sleep(60)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if len(sent) == 4:
            raise OSError("connection reset by peer")

    with pytest.raises(ClientDisconnect):
        await response({**SCOPE, "asgi": {"spec_version": "2.4"}}, receive, send)
    assert source.closed
    assert source.given < 10


def test_a_segment_header_is_the_one_a_whole_wav_has() -> None:
    for layout in (WavLayout(16000, 1, 2, 44, 0), WavLayout(8000, 2, 1, 44, 0)):
        for frames in (b"", bytes(range(256)) * 125):
            assert wav_header(layout, len(frames)) + frames == wav_bytes(layout, frames)


def _export(jobs: int) -> tuple[AccountExport, list[JobRecord]]:
    limits = PlanLimits(
        subscription="free",
        storage_bytes=2**30,
        audio_minutes_per_month=120,
        max_file_bytes=2**27,
        max_files_per_job=100,
        max_concurrent_jobs=2,
        retention_days=7,
        queue_priority=1,
    )
    now = datetime(2026, 11, 30, 9, 17, 40, 123456)
    records = [
        JobRecord(
            id=uuid4(),
            user_id=uuid4(),
            status=JobStatus.COMPLETED,
            progress=100,
            language="en",
            engine=None,
            options={"validate": n % 2 == 0, "note": "caf\u00e9 \u2013 \U0001f600"},
            error=None if n else 'a "quoted" error',
            created_at=now - timedelta(minutes=n),
            updated_at=now,
            files=[
                FileRecord(uuid4(), 0, f"spk/utt{n}", f"utt{n}.wav", f"utt{n}.txt", s, 1.5)
                for s in (FileStatus.ALIGNED, FileStatus.EXPIRED)
            ],
        )
        for n in range(jobs)
    ]
    export = AccountExport(
        exported_at=datetime.now(UTC),
        profile=UserProfile(
            id=uuid4(), email="ann@example.org", subscription="free", created_at=now
        ),
        quota=QuotaOut(
            subscription="free",
            limits=limits,
            usage=Usage(
                storage_bytes_used=5,
                storage_bytes_reserved=0,
                audio_minutes_used=1.25,
                month="2026-11",
                concurrent_jobs=0,
            ),
        ),
        jobs=[job_out(j) for j in records],
    )
    return export, records


@pytest.mark.parametrize("jobs", [0, 1, 7])
async def test_the_streamed_export_is_the_json_fastapi_wrote(jobs: int) -> None:
    export, records = _export(jobs)
    app = FastAPI()

    @app.get("/export", response_model=AccountExport)
    async def whole() -> AccountExport:  # as the route answered before
        return export

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        before = (await client.get("/export")).content

    async def pages() -> AsyncGenerator[list[JobRecord], None]:
        for at in range(0, len(records), 3):
            yield records[at : at + 3]

    head = export.model_copy(update={"jobs": []})
    chunks = [chunk async for chunk in export_json(head, pages())]
    assert b"".join(chunks) == before
    assert len(chunks) == max(1, -(-jobs // 3) + 1)  # a chunk per page, then the end
