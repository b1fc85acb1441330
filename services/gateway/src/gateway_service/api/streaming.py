"""Streamed responses: the body is read as it is sent, and closed however sending ends.

A failure before the first byte (S3 unreachable, an object gone) still leaves as the usual
JSON error, because the first chunk is read before the response starts. A failure after
it can only cut the body short: the client sees fewer bytes than Content-Length said, or a
zip without its end, never a body that looks whole."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway_service.service_layer.downloads import Download

__all__ = ["ClosingStreamingResponse", "primed", "streamed"]


class ClosingStreamingResponse(StreamingResponse):
    """Closes its body when sending ends, whether it finished, failed or the client went
    away, so what the body holds open (an S3 response) is released at once, not when the
    garbage collector comes to it."""

    body_iterator: AsyncGenerator[bytes, None]

    def __init__(
        self,
        content: AsyncGenerator[bytes, None],
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        super().__init__(content, status_code, headers, media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()


async def primed(body: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """``body`` with its first chunk already read: what fails before it raises here."""
    try:
        first = await anext(body)
    except StopAsyncIteration:
        first = b""
    except BaseException:
        await body.aclose()
        raise
    return _after(first, body)


async def _after(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()


async def streamed(
    download: Download, media_type: str, headers: dict[str, str]
) -> ClosingStreamingResponse:
    """The response sending ``download``: 206 with Content-Range for a part of a file,
    Content-Length whenever the size is known."""
    body = await primed(download.body)
    headers = dict(headers)
    if download.length is not None:
        headers["Content-Length"] = str(download.length)
    if download.content_range is not None:
        headers["Content-Range"] = download.content_range
    status = 200 if download.content_range is None else 206
    return ClosingStreamingResponse(body, status, headers, media_type)
