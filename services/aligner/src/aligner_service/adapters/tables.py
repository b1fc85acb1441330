"""aligner's own schema: one row per job it worked on, one per file of it (state,
attempts, the replica that did it, the outcome)."""

from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, MetaData, String, Table, Uuid

from servicekit import LongText, Timestamp

__all__ = ["alignment_files", "alignment_runs", "job_pronunciations", "metadata"]

metadata = MetaData()

alignment_runs = Table(
    "alignment_runs",
    metadata,
    Column("job_id", Uuid(as_uuid=True), primary_key=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("engine", String(64), nullable=False),
    Column("attempts", Integer, nullable=False),  # before per-file runs; now always 1
    Column("status", String(16), nullable=False),  # RUNNING | COMPLETED | FAILED | CANCELLED
    Column("files_total", Integer, nullable=False),
    Column("files_aligned", Integer, nullable=False, server_default="0"),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp, nullable=True),
    Column("error", String(1000), nullable=True),
    # The delivery that owns the run: the job's FilesStored, or the copy promoted after a
    # long wait (service_layer/aging.py); a delivery of the other one is ignored.
    Column("event_id", String(36), nullable=True),
)

alignment_files = Table(
    "alignment_files",
    metadata,
    Column("file_id", Uuid(as_uuid=True), primary_key=True),
    Column(
        "job_id",
        Uuid(as_uuid=True),
        ForeignKey("alignment_runs.job_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("file_index", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # domain.runs.FileState
    Column("attempts", Integer, nullable=False),
    Column("owner", String(36), nullable=True),  # the delivery that started it
    Column("worker", String(64), nullable=True),  # the replica that did it
    Column("progress", Float, nullable=False, server_default="0"),
    Column("aligned", Boolean, nullable=True),
    Column("result_keys", LongText, nullable=True),  # JSON: format -> object key
    Column("word_count", Integer, nullable=False, server_default="0"),
    Column("oov_count", Integer, nullable=False, server_default="0"),
    Column("low_quality", Boolean, nullable=False, server_default="0"),
    Column("error", String(1000), nullable=True),
    Column("started_at", Timestamp, nullable=True),
    Column("finished_at", Timestamp, nullable=True),
)

# A job's own pronunciations (its dictionary part), kept once per job rather than with each
# file's work item.
job_pronunciations = Table(
    "job_pronunciations",
    metadata,
    Column(
        "job_id",
        Uuid(as_uuid=True),
        ForeignKey("alignment_runs.job_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("entries", LongText, nullable=False),  # JSON: word -> [phone, ...]
)
