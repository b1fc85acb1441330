"""aligner's own schema: one row per job it worked on (attempts, engine, timings)."""

from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid

from servicekit import Timestamp

__all__ = ["alignment_runs", "metadata"]

metadata = MetaData()

alignment_runs = Table(
    "alignment_runs",
    metadata,
    Column("job_id", Uuid(as_uuid=True), primary_key=True),
    Column("user_id", Uuid(as_uuid=True), nullable=False, index=True),
    Column("engine", String(64), nullable=False),
    Column("attempts", Integer, nullable=False),
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
