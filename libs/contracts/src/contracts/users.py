"""Events about accounts, published by auth."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from contracts.envelope import Event
from contracts.strings import PlanName

__all__ = ["QuotaChanged", "SessionsRevoked", "UserDeleted", "UserRegistered"]


class UserRegistered(Event):
    EVENT_TYPE = "user.registered"

    user_id: UUID
    subscription: PlanName = "free"


class UserDeleted(Event):
    EVENT_TYPE = "user.deleted"

    user_id: UUID


class QuotaChanged(Event):
    EVENT_TYPE = "quota.changed"

    user_id: UUID
    subscription: PlanName
    storage_bytes_used: int = Field(ge=0)
    storage_bytes_limit: int = Field(ge=0)


class SessionsRevoked(Event):
    """These sessions are over: access tokens naming them (claim ``sid``) are refused now,
    not only when they expire (logout, logout-all, password change, refresh-token reuse)."""

    EVENT_TYPE = "user.sessions-revoked"

    user_id: UUID
    session_ids: list[UUID]
