"""Every error leaves as JSON ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.api_keys import ApiKeyErrorCode
from contracts.errors import RpcErrorCode
from gateway_service.domain.corpus import CorpusErrorCode
from gateway_service.metrics import count_refusal
from servicekit.errors import UNAVAILABLE_KINDS, DomainError, is_unavailable
from servicekit.logs import get_logger, mark_reported
from servicekit.rpc import RpcFailed, RpcUnavailable

__all__ = ["CORPUS_STATUS", "ApiError", "install_error_handlers"]

log = get_logger(__name__)

RETRY_AFTER = {"Retry-After": "5"}

# auth's RPC error codes -> HTTP status.
RPC_STATUS = {
    "email_taken": 409,
    "invalid_credentials": 401,
    "invalid_request": 422,
    "user_not_found": 404,
    "invalid_refresh_token": 401,
    "refresh_token_reused": 401,
    "file_too_large": 413,
    "too_many_files": 413,
    "storage_quota_exceeded": 413,
    "minutes_quota_exceeded": 403,
    ApiKeyErrorCode.INVALID_API_KEY: 401,
    ApiKeyErrorCode.API_KEY_NOT_FOUND: 404,
    ApiKeyErrorCode.TOO_MANY_API_KEYS: 409,
    # the notifier's (webhooks)
    "webhook_not_found": 404,
    "invalid_url": 422,
    "url_not_allowed": 422,
    "too_many_webhooks": 409,
}

# Why a corpus zip was refused -> HTTP status: over a limit 413, anything else 422.
CORPUS_STATUS = {code: 422 for code in CorpusErrorCode} | {
    CorpusErrorCode.TOO_MANY_ENTRIES: 413,
    CorpusErrorCode.TOO_LARGE: 413,
    CorpusErrorCode.ENTRY_TOO_LARGE: 413,
}

HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    error: ErrorDetail


# Documented on every route: what any request may get back besides its success.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "bad request",
        401: "no, expired, revoked or foreign token",
        403: "over a plan's monthly limit; an API key without the scope (or any key, for "
        "managing keys and the account)",
        404: "no such resource (another user's job is absent too)",
        405: "method not allowed",
        409: "conflict",
        413: "over a size, file-count or storage limit",
        415: "unsupported media type",
        416: "range not satisfiable",
        422: "invalid input",
        429: "rate limited or too many running jobs (see Retry-After)",
        503: "a service did not answer in time (see Retry-After)",
    }.items()
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        count_refusal(request, exc.code)
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Locations and reasons only: inputs may hold passwords.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return error_response(
            422, "validation_error", "the request is not valid", {"errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        # A refusal of the request's content: the client can correct and retry.
        count_refusal(request, exc.code)
        return error_response(422, exc.code, exc.message, exc.details)

    @app.exception_handler(RpcUnavailable)
    async def rpc_unavailable(_: Request, exc: RpcUnavailable) -> JSONResponse:
        log.warning("rpc.unavailable", error=str(exc))
        return error_response(
            503,
            "service_unavailable",
            "the account service did not answer in time; please retry shortly",
            headers=RETRY_AFTER,
        )

    @app.exception_handler(RpcFailed)
    async def rpc_failed(request: Request, exc: RpcFailed) -> JSONResponse:
        status = RPC_STATUS.get(exc.error.code)
        if status is not None:
            count_refusal(request, exc.error.code)
        if status is None:  # auth could not do it now (its database is away, or a bug)
            code = exc.error.code
            if code != RpcErrorCode.SERVICE_UNAVAILABLE:
                log.warning("rpc.failed", code=code)
            return error_response(503, code, exc.error.message, headers=RETRY_AFTER)
        return error_response(status, exc.error.code, exc.error.message, exc.error.details)

    async def dependency_unavailable(request: Request, exc: Exception) -> JSONResponse:
        """The database, the broker or S3 is away: not our bug, and the client may retry.
        Registered per exception type (not only under ``Exception``) so that the answer
        goes out through the app's middleware, which reads what is left of an upload."""
        if not is_unavailable(exc):
            raise exc  # for ``unexpected`` below
        log.warning("request.dependency_unavailable", error=type(exc).__name__)
        return error_response(
            503,
            "service_unavailable",
            "a part of the service is unreachable; please retry shortly",
            headers=RETRY_AFTER,
        )

    for kind in UNAVAILABLE_KINDS:
        app.add_exception_handler(kind, dependency_unavailable)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        mark_reported(exc)  # Starlette re-raises it: uvicorn would log it a second time
        if is_unavailable(exc):
            return await dependency_unavailable(request, exc)
        log.exception("request.unhandled_error")
        return error_response(500, "internal_error", "something went wrong on our side")
