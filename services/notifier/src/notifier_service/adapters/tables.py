"""notifier's own schema: webhooks (endpoints and their secrets) and deliveries."""

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
)

from servicekit import LongText, Timestamp

__all__ = ["deliveries", "metadata", "webhooks"]

metadata = MetaData()

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("url", String(2048), nullable=False),
    Column("events", String(255), nullable=False),  # comma-separated event types
    Column("job_id", Uuid(as_uuid=True), nullable=True, index=True),  # a submit's callback
    # Needed in clear to sign (HMAC); never logged, shown once.
    Column("secret", String(64), nullable=False),
    Column("previous_secret", String(64), nullable=True),
    Column("previous_secret_until", Timestamp, nullable=True),
    Column("created_at", Timestamp, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(64), primary_key=True),  # the webhook-id header, on every attempt
    Column(
        "webhook_id",
        Uuid(as_uuid=True),
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("job_id", Uuid(as_uuid=True), nullable=False),
    Column("event", String(32), nullable=False),
    Column("body", LongText, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_status_code", SmallInteger, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("first_attempt_at", Timestamp, nullable=True),
    Column("last_attempt_at", Timestamp, nullable=True),
    # When it is tried next (null once delivered or given up). A sender that takes it moves
    # this a lease ahead, so that a crashed sender's delivery is tried again afterwards.
    Column("next_attempt_at", Timestamp, nullable=True),
    Column("delivered_at", Timestamp, nullable=True),
    Index("ix_deliveries_due", "next_attempt_at"),
    Index("ix_deliveries_webhook_created", "webhook_id", "created_at"),
)
