"""storage's own schema: corpus files and the facts about each stored object; the ingest of
each submitted job (a run, and a row per pair: its state, attempts, and why it was refused)."""

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

from servicekit import LongText, Timestamp

__all__ = [
    "abandoned_uploads",
    "cancelled_jobs",
    "corpus_files",
    "file_storage_metadata",
    "ingest_pairs",
    "ingest_runs",
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

# One row per submitted job storage planned (JobSubmitted): what its answer needs, and
# whether it was given. The pairs are stored one by one, by any replica (ingest_pairs).
ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("job_id", Uuid(as_uuid=True), primary_key=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("language", String(16), nullable=False),
    Column("engine", String(64), nullable=True),
    Column("options", LongText, nullable=False),  # JSON
    Column("priority", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # domain.ingests.IngestState
    Column("pairs_total", Integer, nullable=False),
    Column("expires_at", Timestamp, nullable=False),  # of the files it stores
    Column("created_at", Timestamp, nullable=False),
    Column("cancelled_at", Timestamp, nullable=True),
    Column("finished_at", Timestamp, nullable=True),  # answered (FilesStored/FilesRejected)
)

ingest_pairs = Table(
    "ingest_pairs",
    metadata,
    Column("file_id", Uuid(as_uuid=True), primary_key=True),  # the corpus file's id
    Column(
        "job_id",
        Uuid(as_uuid=True),
        ForeignKey("ingest_runs.job_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("file_index", Integer, nullable=False),
    Column("stem", String(512), nullable=False),
    Column("audio_name", String(512), nullable=False),
    Column("text_name", String(512), nullable=False),
    Column("state", String(16), nullable=False),  # domain.ingests.PairState
    Column("attempts", Integer, nullable=False),
    Column("worker", String(64), nullable=True),  # the replica that stored it
    Column("code", String(64), nullable=True),  # why it was rejected: a stable code ...
    Column("reason", String(1000), nullable=True),  # ... and words for the user
    Column("started_at", Timestamp, nullable=True),
    Column("finished_at", Timestamp, nullable=True),
)
