"""Request dependencies, as ``Annotated`` aliases routes can declare."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway_service.adapters.tokens import (
    AccessClaims,
    AccessTokenVerifier,
    InvalidToken,
    TokenExpired,
)
from gateway_service.api.errors import ApiError
from gateway_service.api.rate_limits import RateLimits
from gateway_service.service_layer.accounts import is_revoked
from servicekit.rpc import RpcClient
from servicekit.timing import stage

__all__ = ["CorrelationId", "CurrentUser", "Limits", "Rpc", "client_ip"]

BEARER = {"WWW-Authenticate": "Bearer"}
bearer_scheme = HTTPBearer(auto_error=False)


def _rpc(request: Request) -> RpcClient:
    client: RpcClient = request.app.state.rpc
    return client


def _correlation_id(request: Request) -> str:
    return str(getattr(request.state, "correlation_id", "-"))


async def _current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> AccessClaims:
    if credentials is None:
        raise ApiError(401, "not_authenticated", "an access token is required", headers=BEARER)
    verifier: AccessTokenVerifier = request.app.state.token_verifier
    try:
        claims = verifier.verify(credentials.credentials)
    except TokenExpired as exc:
        raise ApiError(401, "token_expired", str(exc), headers=BEARER) from exc
    except InvalidToken as exc:
        raise ApiError(401, "invalid_token", str(exc), headers=BEARER) from exc
    with stage("session"):
        async with request.app.state.unit_of_work() as uow:
            revoked = await is_revoked(claims.session_id, uow)
    if revoked:
        raise ApiError(401, "session_ended", "this session has ended; log in again", headers=BEARER)
    # Each request runs in its own context copy: this names the user on its log lines only.
    structlog.contextvars.bind_contextvars(user_id=str(claims.user_id))
    return claims


def _limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def client_ip(request: Request) -> str:
    # The peer address; behind a proxy, uvicorn's --proxy-headers makes it the client's.
    return request.client.host if request.client else "-"


Rpc = Annotated[RpcClient, Depends(_rpc)]
Limits = Annotated[RateLimits, Depends(_limits)]
CorrelationId = Annotated[str, Depends(_correlation_id)]
CurrentUser = Annotated[AccessClaims, Depends(_current_user)]
