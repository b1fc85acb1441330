"""Request dependencies, as ``Annotated`` aliases routes can declare.

A request is made by a login's access token (``Authorization: Bearer <JWT>``) or by an API
key (``Authorization: Bearer fa_...`` or ``X-API-Key: fa_...``). ``CurrentUser`` lets a key
with scope ``read`` do what only reads (GET) and a ``write`` key anything else;
``Reader`` needs only ``read`` whatever the method; ``SessionUser`` needs a login (managing
keys, sessions, the password, deleting the account)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from contracts.api_keys import ApiKeyErrorCode
from contracts.rpc import ApiKeyOwner
from gateway_service.adapters.stream_tokens import (
    InvalidStreamToken,
    StreamTokenExpired,
    StreamTokens,
)
from gateway_service.adapters.tokens import AccessTokenVerifier, InvalidToken, TokenExpired
from gateway_service.api.errors import ApiError
from gateway_service.api.rate_limits import RateLimits
from gateway_service.domain.access import Access, Principal, access_for_method, check_access
from gateway_service.service_layer.accounts import is_revoked
from gateway_service.service_layer.api_keys import (
    ApiKeyRefused,
    ApiKeyVerifier,
    looks_like_api_key,
)
from servicekit.rpc import RpcClient
from servicekit.timing import stage

__all__ = [
    "CorrelationId",
    "CurrentUser",
    "Limits",
    "Reader",
    "Rpc",
    "SessionUser",
    "StreamViewer",
    "client_ip",
]

BEARER = {"WWW-Authenticate": "Bearer"}
bearer_scheme = HTTPBearer(auto_error=False)
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False)
STREAM_TOKEN_MAX_LENGTH = 1024


def _rpc(request: Request) -> RpcClient:
    client: RpcClient = request.app.state.rpc
    return client


def _correlation_id(request: Request) -> str:
    return str(getattr(request.state, "correlation_id", "-"))


def _limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def client_ip(request: Request) -> str:
    # The peer address; behind a proxy, uvicorn's --proxy-headers makes it the client's.
    return request.client.host if request.client else "-"


async def _session(request: Request, token: str) -> Principal:
    verifier: AccessTokenVerifier = request.app.state.token_verifier
    try:
        claims = verifier.verify(token)
    except TokenExpired as exc:
        raise ApiError(401, "token_expired", str(exc), headers=BEARER) from exc
    except InvalidToken as exc:
        raise ApiError(401, "invalid_token", str(exc), headers=BEARER) from exc
    with stage("session"):
        async with request.app.state.unit_of_work() as uow:
            revoked = await is_revoked(claims.session_id, uow)
    if revoked:
        raise ApiError(401, "session_ended", "this session has ended; log in again", headers=BEARER)
    return Principal(user_id=claims.user_id, session_id=claims.session_id)


async def _api_key(request: Request, key: str) -> Principal:
    verifier: ApiKeyVerifier = request.app.state.api_keys
    try:
        with stage("api_key"):
            owner: ApiKeyOwner = await verifier.owner(key, _correlation_id(request))
    except ApiKeyRefused as exc:
        raise ApiError(401, ApiKeyErrorCode.INVALID_API_KEY, str(exc), headers=BEARER) from exc
    await _limits(request).hit("per_api_key", str(owner.key_id))
    return Principal(user_id=owner.user_id, key_id=owner.key_id, scope=owner.scope)


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """Whose request this is: from the bearer token (a JWT, or a key) or the X-API-Key."""
    if credentials is not None and credentials.credentials:
        token = credentials.credentials
        principal = (
            await _api_key(request, token)
            if looks_like_api_key(token)
            else await _session(request, token)
        )
    elif api_key:
        principal = await _api_key(request, api_key)
    else:
        raise ApiError(
            401, "not_authenticated", "an access token or API key is required", headers=BEARER
        )
    # Each request runs in its own context copy: this names the user on its log lines only.
    structlog.contextvars.bind_contextvars(user_id=str(principal.user_id))
    return principal


def _allowed(principal: Principal, needed: Access) -> Principal:
    refused = check_access(principal, needed)
    if refused is not None:
        raise ApiError(403, refused.code, refused.message, details=refused.details)
    return principal


async def _current_user(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> Principal:
    return _allowed(principal, access_for_method(request.method))


async def _reader(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    return _allowed(principal, Access.READ)


async def _session_user(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    return _allowed(principal, Access.ACCOUNT)


async def _stream_viewer(
    request: Request,
    job_id: UUID,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
    token: Annotated[
        str | None,
        Query(
            max_length=STREAM_TOKEN_MAX_LENGTH,
            description="a stream token (POST /alignment/{id}/stream-token), for clients "
            "that cannot send headers (EventSource)",
        ),
    ] = None,
) -> UUID:
    """The user following a job's events: by a stream token for this job, or as any read."""
    if token is None:
        principal = await authenticate(request, credentials, api_key)
        return _allowed(principal, Access.READ).user_id
    tokens: StreamTokens = request.app.state.stream_tokens
    try:
        user_id = tokens.verify(token, job_id)
    except StreamTokenExpired as exc:
        raise ApiError(401, "stream_token_expired", str(exc)) from exc
    except InvalidStreamToken as exc:
        raise ApiError(401, "invalid_stream_token", str(exc)) from exc
    structlog.contextvars.bind_contextvars(user_id=str(user_id))
    return user_id


Rpc = Annotated[RpcClient, Depends(_rpc)]
Limits = Annotated[RateLimits, Depends(_limits)]
CorrelationId = Annotated[str, Depends(_correlation_id)]
CurrentUser = Annotated[Principal, Depends(_current_user)]
Reader = Annotated[Principal, Depends(_reader)]
SessionUser = Annotated[Principal, Depends(_session_user)]
StreamViewer = Annotated[UUID, Depends(_stream_viewer)]
