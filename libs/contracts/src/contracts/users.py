"""Events about accounts, published by auth."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from contracts.envelope import Event

__all__ = ["QuotaChanged", "UserDeleted", "UserRegistered"]


class UserRegistered(Event):
    EVENT_TYPE = "user.registered"

    user_id: UUID
    subscription: str = "free"


class UserDeleted(Event):
    EVENT_TYPE = "user.deleted"

    user_id: UUID


class QuotaChanged(Event):
    EVENT_TYPE = "quota.changed"

    user_id: UUID
    subscription: str
    storage_bytes_used: int = Field(ge=0)
    storage_bytes_limit: int = Field(ge=0)
