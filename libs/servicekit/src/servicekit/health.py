"""``/healthz`` (alive), ``/readyz`` (dependencies reachable) and ``/metrics``."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from servicekit.logs import get_logger
from servicekit.metrics import HTTP_REQUESTS, HTTP_SECONDS
from servicekit.timing import server_timing, timed_stages

__all__ = ["ReadinessCheck", "add_operational_routes"]

ReadinessCheck = Callable[[], Awaitable[object]]
CHECK_TIMEOUT_SECONDS = 2.0

log = get_logger(__name__)


async def _run_check(check: ReadinessCheck) -> str:
    try:
        result = await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # a readiness probe reports failures, it does not raise them
        return f"error: {type(exc).__name__}"
    return "ok" if result is not False else "unavailable"


def add_operational_routes(
    app: FastAPI,
    service: str,
    checks: Mapping[str, ReadinessCheck],
    samplers: Sequence[Callable[[], Awaitable[object]]] = (),
) -> None:
    """``samplers`` update gauges that are read from elsewhere (the broker) just before
    ``/metrics`` answers; one that fails or is slow leaves its gauge as it was."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        names = list(checks)
        results = await asyncio.gather(*(_run_check(checks[n]) for n in names))
        report = dict(zip(names, results, strict=True))
        ready = all(r == "ok" for r in results)
        if not ready:
            log.warning("readiness.failed", checks=report)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "service": service, "checks": report},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        await asyncio.gather(*(_run_check(sample) for sample in samplers))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestObservability)


class RequestObservability(BaseHTTPMiddleware):
    """Binds a correlation id to every request's log lines and records metrics."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        correlation_id = request.headers.get("x-correlation-id") or request.headers.get(
            "x-request-id"
        )
        if not correlation_id or len(correlation_id) > 128:
            correlation_id = str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        started = time.perf_counter()
        # Bound for the rest of this request's task, not reset on the way out: the error
        # handler outside this middleware logs an unhandled error with it too. Each request
        # runs in a task of its own, so nothing leaks into the next one.
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        with timed_stages() as stages:
            response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        elapsed = time.perf_counter() - started
        HTTP_SECONDS.labels(request.method, path).observe(elapsed)
        response.headers["x-correlation-id"] = correlation_id
        # The server's own time (until the response starts), for clients and load tests.
        response.headers["server-timing"] = server_timing(elapsed * 1000, stages)
        return response
