"""auth's own schema. Nothing outside this service reads these tables."""

from sqlalchemy import Column, ForeignKey, MetaData, String, Table, Uuid

from servicekit import Timestamp

__all__ = ["metadata", "refresh_tokens", "users"]

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("subscription", String(32), nullable=False, server_default="free"),
    Column("created_at", Timestamp, nullable=False),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column(
        "user_id",
        Uuid(as_uuid=True),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("family_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("expires_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp, nullable=True),
    Column("created_at", Timestamp, nullable=False),
)
