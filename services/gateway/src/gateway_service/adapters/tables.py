"""gateway's own schema: the jobs read model, kept from events."""

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from servicekit import LongText, Timestamp

__all__ = ["engine_offers", "job_files", "jobs", "metadata", "revoked_sessions"]

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Integer, nullable=False, server_default="0"),
    Column("language", String(16), nullable=False),
    Column("engine", String(64), nullable=True),
    Column("options", Text, nullable=False),  # JSON
    Column("error", String(1000), nullable=True),
    Column("idempotency_key", String(128), nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    # The submitter's plan then (metrics by plan); NULL for jobs from before migration 0006.
    Column("plan", String(32), nullable=True),
    UniqueConstraint("user_id", "idempotency_key", name="uq_jobs_user_idempotency"),
    Index("ix_jobs_user_created", "user_id", "created_at", "id"),
    Index("ix_jobs_status_created", "status", "created_at"),
)

job_files = Table(
    "job_files",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),  # the corpus file id
    Column(
        "job_id",
        Uuid(as_uuid=True),
        ForeignKey("jobs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("file_index", Integer, nullable=False),
    Column("stem", String(512), nullable=False),
    Column("audio_name", String(512), nullable=False),
    Column("text_name", String(512), nullable=False),
    Column("status", String(16), nullable=False),
    Column("duration", Float, nullable=True),
    Column("audio_key", String(512), nullable=True),
    Column("result_keys", Text, nullable=True),  # JSON: format -> object key
    Column("word_count", Integer, nullable=True),
    Column("oov_count", Integer, nullable=True),
    Column("low_quality", Boolean, nullable=True),
    Column("error", String(1000), nullable=True),
)

# Session ids only (random, not the user's): enough to refuse their access tokens early.
revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("session_id", Uuid(as_uuid=True), primary_key=True),
    Column("revoked_at", Timestamp, nullable=False, index=True),
)

# What each aligner replica last announced it can align (EnginesAnnounced): one row per
# replica and engine, fresh until a few announcement periods have passed without another.
engine_offers = Table(
    "engine_offers",
    metadata,
    Column("worker", String(64), primary_key=True),
    Column("engine", String(64), primary_key=True),
    Column("ready", Boolean, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("offer", LongText, nullable=False),  # JSON: the EngineOffer as announced
    Column("announced_at", Timestamp, nullable=False),
    Column("fresh_until", Timestamp, nullable=False, index=True),
)
