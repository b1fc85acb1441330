"""Request/reply messages over RabbitMQ: the gateway's to auth, and auth's to storage.

Requests are orders (``RegisterUser``); replies carry either a result or a typed error,
never both, so the gateway can map the error code to an HTTP status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Generic, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from contracts.api_keys import API_KEY_LABEL_MAX_LENGTH, API_KEY_PREFIX_LENGTH, ApiKeyScope
from contracts.strings import (
    CORRELATION_ID_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    EmailAddress,
    Month,
    PlanName,
)

__all__ = [
    "RPC_REQUESTS",
    "ApiKeyCreated",
    "ApiKeyInfo",
    "ApiKeyList",
    "ApiKeyOwner",
    "ChangePassword",
    "CountStoredUsage",
    "CreateApiKey",
    "DeleteAccount",
    "Done",
    "EndAllSessions",
    "EndSession",
    "GetQuota",
    "GetUser",
    "ListApiKeys",
    "LoginUser",
    "PlanLimits",
    "QuotaRefusal",
    "QuotaReport",
    "RefreshSession",
    "RegisterUser",
    "ReserveQuota",
    "RevokeApiKey",
    "RpcError",
    "RpcReply",
    "RpcRequest",
    "StoredUsage",
    "TokenPair",
    "UserProfile",
    "VerifyApiKey",
    "quota_refusal",
]

PASSWORD_MIN_LENGTH = 8
# argon2 accepts any length, but an unbounded password is a cheap denial of service.
PASSWORD_MAX_LENGTH = 256


class RpcRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    QUEUE: ClassVar[str]
    correlation_id: str = Field(default="-", max_length=CORRELATION_ID_MAX_LENGTH)


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
    email: EmailAddress
    subscription: PlanName
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int = Field(description="access token lifetime in seconds")


class Credentials(RpcRequest):
    email: EmailStr = Field(max_length=EMAIL_MAX_LENGTH)
    # repr=False keeps passwords out of reprs and so out of any log line.
    password: str = Field(
        min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH, repr=False
    )


class RegisterUser(Credentials):
    QUEUE = "auth.rpc.register-user.v1"


class LoginUser(RpcRequest):
    QUEUE = "auth.rpc.login-user.v1"

    email: str = Field(max_length=EMAIL_MAX_LENGTH)
    password: str = Field(max_length=PASSWORD_MAX_LENGTH, repr=False)


class GetUser(RpcRequest):
    QUEUE = "auth.rpc.get-user.v1"

    user_id: UUID


class Done(BaseModel):
    """The reply to an order that returns nothing but its success."""

    ok: bool = True


class RefreshSession(RpcRequest):
    """Spend a refresh token for a new pair; a spent one presented again ends its session."""

    QUEUE = "auth.rpc.refresh-session.v1"

    refresh_token: str = Field(min_length=1, max_length=512, repr=False)


class EndSession(RpcRequest):
    QUEUE = "auth.rpc.end-session.v1"

    user_id: UUID
    refresh_token: str = Field(min_length=1, max_length=512, repr=False)


class EndAllSessions(RpcRequest):
    QUEUE = "auth.rpc.end-all-sessions.v1"

    user_id: UUID


class ChangePassword(RpcRequest):
    """Ends every session of the user: they log in again with the new password."""

    QUEUE = "auth.rpc.change-password.v1"

    user_id: UUID
    current_password: str = Field(max_length=PASSWORD_MAX_LENGTH, repr=False)
    new_password: str = Field(
        min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH, repr=False
    )


class DeleteAccount(RpcRequest):
    """Deletes the account and publishes UserDeleted: every service forgets the user."""

    QUEUE = "auth.rpc.delete-account.v1"

    user_id: UUID


class PlanLimits(BaseModel):
    subscription: PlanName
    storage_bytes: int
    audio_minutes_per_month: int
    max_file_bytes: int
    max_files_per_job: int
    max_concurrent_jobs: int
    retention_days: int
    queue_priority: int = Field(ge=0, le=9)


class QuotaReport(BaseModel):
    limits: PlanLimits
    storage_bytes_used: int = Field(description="bytes of stored files")
    storage_bytes_reserved: int = Field(description="bytes of uploads not yet stored")
    audio_minutes_used: float = Field(description="audio aligned this calendar month (UTC)")
    month: Month = Field(description="YYYY-MM (UTC)")


class QuotaRefusal(BaseModel):
    code: str
    message: str
    details: dict[str, int | float]


def quota_refusal(
    limits: PlanLimits, *, minutes_used: float, bytes_taken: int, incoming_bytes: int
) -> QuotaRefusal | None:
    """Why an upload of ``incoming_bytes`` may not start, if it may not. One rule, applied by
    the gateway before it streams an upload and by auth when it reserves room for it (which
    decides between racing uploads); ``bytes_taken`` counts stored and reserved bytes."""
    if minutes_used >= limits.audio_minutes_per_month:
        return QuotaRefusal(
            code="minutes_quota_exceeded",
            message=f"you have aligned {minutes_used:.1f} of your plan's "
            f"{limits.audio_minutes_per_month} audio minutes this month",
            details={"used": minutes_used, "limit": limits.audio_minutes_per_month},
        )
    if bytes_taken + incoming_bytes > limits.storage_bytes:
        return QuotaRefusal(
            code="storage_quota_exceeded",
            message=f"an upload of {incoming_bytes} bytes does not fit: {bytes_taken} of your "
            f"plan's {limits.storage_bytes} bytes are in use",
            details={
                "used": bytes_taken,
                "requested": incoming_bytes,
                "limit": limits.storage_bytes,
            },
        )
    return None


class GetQuota(RpcRequest):
    QUEUE = "auth.rpc.get-quota.v1"

    user_id: UUID


class ReserveQuota(RpcRequest):
    """Holds room for an upload until storage has stored it (or refused it): two uploads
    racing for the last bytes cannot both get in."""

    QUEUE = "auth.rpc.reserve-quota.v1"

    user_id: UUID
    job_id: UUID
    bytes: int = Field(ge=0)
    files: int = Field(ge=1)
    largest_file_bytes: int = Field(ge=0)


class CountStoredUsage(RpcRequest):
    """What storage holds for a user: the facts ``auth recalculate-usage`` rebuilds the
    user's usage from (auth never reads storage's tables)."""

    QUEUE = "storage.rpc.count-stored-usage.v1"

    user_id: UUID
    month: Month = Field(description="YYYY-MM (UTC)")


class StoredUsage(BaseModel):
    user_id: UUID
    month: Month
    stored_bytes: int = Field(ge=0, description="bytes of files stored and not yet deleted")
    audio_seconds: float = Field(ge=0, description="audio stored during the month")
    files: int = Field(ge=0, description="files stored and not yet deleted")


# API keys (auth owns them; the gateway manages them for their owner and checks them) ------

ApiKeyLabel = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=API_KEY_LABEL_MAX_LENGTH)
]
API_KEY_MAX_LENGTH = 128  # what VerifyApiKey accepts; keys are 46 characters


class ApiKeyInfo(BaseModel):
    """A key as its owner sees it in a listing: never the key itself."""

    id: UUID
    label: ApiKeyLabel
    scope: ApiKeyScope
    prefix: str = Field(max_length=API_KEY_PREFIX_LENGTH)
    created_at: datetime
    last_used_at: datetime | None = Field(
        default=None, description="to the minute: auth writes it at most once a minute"
    )


class ApiKeyCreated(ApiKeyInfo):
    key: str = Field(repr=False, description="shown once: auth keeps only its SHA-256")


class ApiKeyList(BaseModel):
    items: list[ApiKeyInfo]


class ApiKeyOwner(BaseModel):
    """Whose a valid key is, and what it may do."""

    key_id: UUID
    user_id: UUID
    scope: ApiKeyScope


class CreateApiKey(RpcRequest):
    QUEUE = "auth.rpc.create-api-key.v1"

    user_id: UUID
    label: ApiKeyLabel
    scope: ApiKeyScope


class ListApiKeys(RpcRequest):
    """The user's live keys (revoked ones are left out), newest first."""

    QUEUE = "auth.rpc.list-api-keys.v1"

    user_id: UUID


class RevokeApiKey(RpcRequest):
    """Refused with ``api_key_not_found`` for a key that is not the user's (or is revoked)."""

    QUEUE = "auth.rpc.revoke-api-key.v1"

    user_id: UUID
    key_id: UUID


class VerifyApiKey(RpcRequest):
    """Whose key this is; refused with ``invalid_api_key`` for an unknown or revoked one."""

    QUEUE = "auth.rpc.verify-api-key.v1"

    key: str = Field(min_length=1, max_length=API_KEY_MAX_LENGTH, repr=False)


RPC_REQUESTS: dict[type[RpcRequest], type[BaseModel]] = {
    RegisterUser: UserProfile,
    LoginUser: TokenPair,
    GetUser: UserProfile,
    RefreshSession: TokenPair,
    EndSession: Done,
    EndAllSessions: Done,
    ChangePassword: Done,
    DeleteAccount: Done,
    GetQuota: QuotaReport,
    ReserveQuota: QuotaReport,
    CountStoredUsage: StoredUsage,
    CreateApiKey: ApiKeyCreated,
    ListApiKeys: ApiKeyList,
    RevokeApiKey: Done,
    VerifyApiKey: ApiKeyOwner,
}
