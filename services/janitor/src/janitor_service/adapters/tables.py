"""janitor's own schema: every stored object's expiry, and the cleanup runs."""

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Uuid

from servicekit import Timestamp

__all__ = ["cancelled_jobs", "cleanup_runs", "expirations", "metadata", "submitted_jobs"]

metadata = MetaData()

expirations = Table(
    "expirations",
    metadata,
    Column("object_key", String(512), primary_key=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("job_id", Uuid(as_uuid=True), nullable=False),
    Column("corpus_file_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # corpus | result
    Column("size_bytes", BigInteger, nullable=False),
    Column("expires_at", Timestamp, nullable=False),
    Column("deleted_at", Timestamp, nullable=True),
    Index("ix_expirations_due", "deleted_at", "expires_at"),
)

cleanup_runs = Table(
    "cleanup_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp, nullable=True),
    Column("dry_run", Boolean, nullable=False),
    Column("clock", Timestamp, nullable=False),
    Column("files_expired", Integer, nullable=False, server_default="0"),
    Column("objects_deleted", Integer, nullable=False, server_default="0"),
    Column("bytes_freed", BigInteger, nullable=False, server_default="0"),
)

# Jobs their owner deleted: whatever of them the ledger holds, or learns of later (events
# cross), expires at once.
cancelled_jobs = Table(
    "cancelled_jobs",
    metadata,
    Column("job_id", Uuid(as_uuid=True), primary_key=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("cancelled_at", Timestamp, nullable=False),
)

# Jobs the janitor has heard were submitted (JobSubmitted), and when storage answered them
# (FilesStored or FilesRejected; it may be heard of first): an upload under incoming/ of a
# job missing here is abandoned once it is old enough (janitor_service.domain.orphans).
submitted_jobs = Table(
    "submitted_jobs",
    metadata,
    Column("job_id", Uuid(as_uuid=True), primary_key=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("recorded_at", Timestamp, nullable=False),
    Column("answered_at", Timestamp, nullable=True),
)
