from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

__all__ = ["RefreshToken", "User", "normalize_email"]


def normalize_email(email: str) -> str:
    """Emails are unique case-insensitively: store and compare them lower-cased."""
    return email.strip().lower()


@dataclass
class User:
    id: UUID
    email: str
    password_hash: str
    subscription: str
    created_at: datetime


@dataclass
class RefreshToken:
    id: UUID
    user_id: UUID
    family_id: UUID
    token_hash: str
    expires_at: datetime
    revoked_at: datetime | None = None
