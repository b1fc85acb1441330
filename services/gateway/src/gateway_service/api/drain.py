"""Reads what is left of a request body before an early error response goes out.

A route that refuses a request before reading its upload (503 while a dependency is away,
429, 413 from Content-Length...) would otherwise close a connection the client is still
writing to: the client then sees a connection reset instead of our JSON error. Up to
``DRAIN_LIMIT_BYTES`` or ``DRAIN_SECONDS`` are read and dropped; past that the connection
closes as before (a client sending gigabytes should ask with ``Expect: 100-continue``)."""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DrainUnreadBody"]

DRAIN_LIMIT_BYTES = 16 * 2**20
DRAIN_SECONDS = 2.0


class DrainUnreadBody:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False

        async def tracking_receive() -> Message:
            nonlocal body_done
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def draining_send(message: Message) -> None:
            if (
                message["type"] == "http.response.start"
                and message["status"] >= 400
                and not body_done
            ):
                await _drain(tracking_receive)
            await send(message)

        await self.app(scope, tracking_receive, draining_send)


async def _drain(receive: Receive) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    drained = 0
    while drained <= DRAIN_LIMIT_BYTES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
