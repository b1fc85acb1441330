"""``/api/v1/auth``: registration, login and the current user, answered by auth over RPC."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, EmailStr, Field

from contracts.rpc import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    GetUser,
    LoginUser,
    RegisterUser,
    TokenPair,
    UserProfile,
)
from gateway_service.api.deps import CorrelationId, CurrentUser, Rpc
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


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserProfile)
async def register(body: RegisterBody, rpc: Rpc, correlation_id: CorrelationId) -> UserProfile:
    request = RegisterUser(email=body.email, password=body.password, correlation_id=correlation_id)
    return await rpc.call(request, UserProfile)


@router.post("/login", response_model=TokenPair)
async def login(body: LoginBody, rpc: Rpc, correlation_id: CorrelationId) -> TokenPair:
    request = LoginUser(email=body.email, password=body.password, correlation_id=correlation_id)
    return await rpc.call(request, TokenPair)


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
