"""An unhandled error in a request is one log line (``request.unhandled_error``, with its
traceback), though Starlette re-raises it to the server after our handler answered 500."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from gateway_service.api.errors import install_error_handlers
from servicekit.health import add_operational_routes
from servicekit.logs import configure_logging


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "error",
    [RuntimeError("kaboom 7f3a"), ConnectionRefusedError("a dependency is away")],
    ids=["bug", "dependency-away"],
)
async def test_an_unhandled_error_is_logged_once(
    tmp_path: Path, restore_logging: None, error: Exception
) -> None:
    log_file = tmp_path / "gateway.log"
    configure_logging("gateway", log_file=str(log_file))
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    add_operational_routes(app, "gateway", {})  # as ServiceRuntime.http_app does
    port = free_port()
    # as ServiceRuntime.run starts it
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to await)
                await asyncio.sleep(0.02)
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"http://127.0.0.1:{port}/boom", headers={"x-correlation-id": "req-4711"}
            )
    finally:
        server.should_exit = True
        await serving

    assert response.status_code in (500, 503)
    raw = log_file.read_text().splitlines()
    assert not [line for line in raw if "Exception in ASGI application" in line]
    lines = [json.loads(line) for line in raw]
    # the server's start and stop, and httpx's request line, are info; the error is not
    [about_it] = [line for line in lines if line["level"] != "info"]
    assert about_it["event"].startswith("request.")
    assert about_it["correlation_id"] == "req-4711"  # the line names the request
    if response.status_code == 500:
        assert (about_it["event"], about_it["level"]) == ("request.unhandled_error", "error")
        assert about_it["exception"].rstrip().endswith("RuntimeError: kaboom 7f3a")
