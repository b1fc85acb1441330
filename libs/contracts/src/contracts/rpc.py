"""Request/reply messages the gateway sends to auth over RabbitMQ.

Requests are orders (``RegisterUser``); replies carry either a result or a typed error,
never both, so the gateway can map the error code to an HTTP status.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Generic, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

__all__ = [
    "AUTH_RPC_REQUESTS",
    "GetUser",
    "LoginUser",
    "RegisterUser",
    "RpcError",
    "RpcReply",
    "RpcRequest",
    "TokenPair",
    "UserProfile",
]

PASSWORD_MIN_LENGTH = 8
# argon2 accepts any length, but an unbounded password is a cheap denial of service.
PASSWORD_MAX_LENGTH = 256


class RpcRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    QUEUE: ClassVar[str]
    correlation_id: str = Field(default="-", max_length=128)


class RpcError(BaseModel):
    """A refusal the caller should show; ``code`` is stable, ``message`` is for people."""

    code: str
    message: str
    details: dict[str, object] = Field(default_factory=dict)


ResultT = TypeVar("ResultT", bound=BaseModel)


class RpcReply(BaseModel, Generic[ResultT]):
    result: ResultT | None = None
    error: RpcError | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.result is None) == (self.error is None):
            raise ValueError("a reply carries either a result or an error")
        return self


class UserProfile(BaseModel):
    id: UUID
    email: str
    subscription: str
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int = Field(description="access token lifetime in seconds")


class Credentials(RpcRequest):
    email: EmailStr = Field(max_length=320)
    # repr=False keeps passwords out of reprs and so out of any log line.
    password: str = Field(
        min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH, repr=False
    )


class RegisterUser(Credentials):
    QUEUE = "auth.rpc.register-user.v1"


class LoginUser(RpcRequest):
    QUEUE = "auth.rpc.login-user.v1"

    email: str = Field(max_length=320)
    password: str = Field(max_length=PASSWORD_MAX_LENGTH, repr=False)


class GetUser(RpcRequest):
    QUEUE = "auth.rpc.get-user.v1"

    user_id: UUID


AUTH_RPC_REQUESTS: dict[type[RpcRequest], type[BaseModel]] = {
    RegisterUser: UserProfile,
    LoginUser: TokenPair,
    GetUser: UserProfile,
}
