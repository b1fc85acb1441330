"""storage's own schema: corpus files and the facts about each stored object."""

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
)

from servicekit import Timestamp

__all__ = [
    "abandoned_uploads",
    "cancelled_jobs",
    "corpus_files",
    "file_storage_metadata",
    "metadata",
]

metadata = MetaData()

corpus_files = Table(
    "corpus_files",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column("job_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("file_index", Integer, nullable=False),
    Column("stem", String(512), nullable=False),
    Column("audio_name", String(512), nullable=False),
    Column("text_name", String(512), nullable=False),
    Column("duration_seconds", Float, nullable=False),
    Column("status", String(16), nullable=False),  # STORED | GONE
    Column("created_at", Timestamp, nullable=False),
    Column("gone_at", Timestamp, nullable=True),
)

file_storage_metadata = Table(
    "file_storage_metadata",
    metadata,
    Column(
        "corpus_file_id",
        Uuid(as_uuid=True),
        ForeignKey("corpus_files.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", String(16), primary_key=True),  # audio | text
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("expires_at", Timestamp, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("deleted_at", Timestamp, nullable=True),
)

# Jobs deleted by their owner (JobCancelled), so that a JobSubmitted still on its way is not
# stored after all.
cancelled_jobs = Table(
    "cancelled_jobs",
    metadata,
    Column("job_id", Uuid(as_uuid=True), primary_key=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("cancelled_at", Timestamp, nullable=False),
)

# Uploads the janitor found abandoned and deleted (UploadAbandoned): should the job's
# JobSubmitted come after all, the job is refused, never stored from what is left.
abandoned_uploads = Table(
    "abandoned_uploads",
    metadata,
    Column("job_id", Uuid(as_uuid=True), primary_key=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("abandoned_at", Timestamp, nullable=False),
)
