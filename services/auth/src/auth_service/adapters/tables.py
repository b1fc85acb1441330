"""auth's own schema. Nothing outside this service reads these tables."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
)

from servicekit import Timestamp

__all__ = [
    "api_keys",
    "audio_charges",
    "metadata",
    "refresh_tokens",
    "reservations",
    "subscription_types",
    "usage",
    "users",
]

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

subscription_types = Table(
    "subscription_types",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("storage_bytes", BigInteger, nullable=False),
    Column("audio_minutes_per_month", Integer, nullable=False),
    Column("max_file_bytes", BigInteger, nullable=False),
    Column("max_files_per_job", Integer, nullable=False),
    Column("max_concurrent_jobs", Integer, nullable=False),
    Column("retention_days", Integer, nullable=False),
    Column("queue_priority", SmallInteger, nullable=False),
    Column("is_admin", Boolean, nullable=False),
)

usage = Table(
    "usage",
    metadata,
    Column(
        "user_id", Uuid(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("storage_bytes", BigInteger, nullable=False, server_default="0"),
    Column("month", String(7), nullable=False),
    Column("audio_seconds_month", Float, nullable=False, server_default="0"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("job_id", Uuid(as_uuid=True), primary_key=True),
    Column(
        "user_id", Uuid(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    Column("bytes", BigInteger, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

# Keys for scripts. Only the SHA-256 of a key is kept: a key is 256 random bits, so a fast
# hash is as safe as a slow one (nothing to guess), and checking one costs no CPU to speak of.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column(
        "user_id",
        Uuid(as_uuid=True),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("label", String(100), nullable=False),
    Column("scope", String(8), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Timestamp, nullable=False),
    Column("last_used_at", Timestamp, nullable=True),
    Column("revoked_at", Timestamp, nullable=True),
)

# The seconds of audio each stored file was charged (or not: a validate-only job's), so that
# a file that was not aligned gives them back once, to the month they were charged in.
audio_charges = Table(
    "audio_charges",
    metadata,
    Column("corpus_file_id", Uuid(as_uuid=True), primary_key=True),
    Column("job_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column(
        "user_id", Uuid(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    Column("month", String(7), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("state", String(16), nullable=False),  # metering.ChargeState
    Column("created_at", Timestamp, nullable=False),
    Index("ix_audio_charges_user_month", "user_id", "month"),
)
