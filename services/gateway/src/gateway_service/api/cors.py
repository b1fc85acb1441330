"""CORS for the origins the operator allows (none by default), with Starlette's middleware;
a refused preflight answers in the API's error format."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from gateway_service.api.errors import error_response

__all__ = ["allow_origins"]

ALLOWED_HEADERS = ["Authorization", "X-API-Key", "Content-Type", "Idempotency-Key", "Range"]
EXPOSED_HEADERS = ["Location", "Retry-After", "Content-Disposition", "Content-Range"]


class JsonRefusalCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode()  # "Disallowed CORS origin, method"
        return error_response(
            400,
            "cors_refused",
            f"{refused}: this origin, method or header may not call the API from a browser",
            headers={k: v for k, v in response.headers.items() if k.startswith("access-control")},
        )


def allow_origins(app: FastAPI, origins: list[str]) -> None:
    """Add last, so that it is outermost: error answers (401, 429...) carry its headers too.
    No credentials mode: the API takes tokens and keys in headers, never cookies."""
    if not origins:
        return
    app.add_middleware(
        JsonRefusalCORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
