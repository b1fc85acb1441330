"""``/api/v1/auth``: registration, login and the current user, answered by auth over RPC."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, EmailStr, Field

from contracts.rpc import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    ChangePassword,
    Done,
    EndAllSessions,
    EndSession,
    GetUser,
    LoginUser,
    RefreshSession,
    RegisterUser,
    TokenPair,
    UserProfile,
)
from gateway_service.api.deps import (
    CorrelationId,
    CurrentUser,
    Limits,
    Rpc,
    SessionUser,
    client_ip,
)
from gateway_service.api.errors import ApiError
from servicekit.rpc import RpcFailed

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"])


class RegisterBody(BaseModel):
    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)


class LoginBody(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class RefreshBody(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class PasswordBody(BaseModel):
    current_password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    new_password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserProfile)
async def register(
    request: Request, body: RegisterBody, rpc: Rpc, limits: Limits, correlation_id: CorrelationId
) -> UserProfile:
    await limits.hit("register_per_ip", client_ip(request))
    order = RegisterUser(email=body.email, password=body.password, correlation_id=correlation_id)
    return await rpc.call(order, UserProfile)


@router.post("/login", response_model=TokenPair)
async def login(
    request: Request, body: LoginBody, rpc: Rpc, limits: Limits, correlation_id: CorrelationId
) -> TokenPair:
    await limits.hit("login_per_ip", client_ip(request))
    await limits.hit("login_per_email", body.email.strip().lower())
    order = LoginUser(email=body.email, password=body.password, correlation_id=correlation_id)
    return await rpc.call(order, TokenPair)


@router.get("/me", response_model=UserProfile)
async def me(user: CurrentUser, rpc: Rpc, correlation_id: CorrelationId) -> UserProfile:
    try:
        return await rpc.call(
            GetUser(user_id=user.user_id, correlation_id=correlation_id), UserProfile
        )
    except RpcFailed as exc:
        if exc.error.code == "user_not_found":  # a valid token for a deleted account
            raise ApiError(401, "invalid_token", "this account no longer exists") from exc
        raise


@router.post("/refresh", response_model=TokenPair)
async def refresh(
    request: Request, body: RefreshBody, rpc: Rpc, limits: Limits, correlation_id: CorrelationId
) -> TokenPair:
    """A new token pair for a refresh token, which is spent: present it again and the
    whole session ends."""
    await limits.hit("refresh_per_ip", client_ip(request))
    order = RefreshSession(refresh_token=body.refresh_token, correlation_id=correlation_id)
    return await rpc.call(order, TokenPair)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    body: RefreshBody, user: SessionUser, rpc: Rpc, correlation_id: CorrelationId
) -> Response:
    """Ends this session: its refresh token and its access tokens stop working."""
    request = EndSession(
        user_id=user.user_id, refresh_token=body.refresh_token, correlation_id=correlation_id
    )
    await rpc.call(request, Done)
    return Response(status_code=204)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(user: SessionUser, rpc: Rpc, correlation_id: CorrelationId) -> Response:
    """Ends every session of the account, on every device."""
    await rpc.call(EndAllSessions(user_id=user.user_id, correlation_id=correlation_id), Done)
    return Response(status_code=204)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordBody, user: SessionUser, rpc: Rpc, correlation_id: CorrelationId
) -> Response:
    """Changes the password and ends every session: log in again with the new one."""
    request = ChangePassword(
        user_id=user.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        correlation_id=correlation_id,
    )
    await rpc.call(request, Done)
    return Response(status_code=204)
