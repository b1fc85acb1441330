"""Job and file states, and how events move them (never backwards)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACTIVE", "FileStatus", "JobStatus", "advance", "advance_file"]


class JobStatus(StrEnum):
    PENDING = "PENDING"
    STORED = "STORED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


# Not finished yet: what the concurrent-jobs limit counts, and what a progress stream follows.
ACTIVE = frozenset({JobStatus.PENDING, JobStatus.STORED, JobStatus.PROCESSING})


class FileStatus(StrEnum):
    PENDING = "PENDING"
    STORED = "STORED"
    REJECTED = "REJECTED"
    PROCESSING = "PROCESSING"
    ALIGNED = "ALIGNED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


# Events travel on separate queues and may arrive out of order: a state only moves forward.
_JOB_RANK = {
    JobStatus.PENDING: 0,
    JobStatus.STORED: 1,
    JobStatus.PROCESSING: 2,
    JobStatus.COMPLETED: 3,
    JobStatus.FAILED: 3,
    JobStatus.CANCELLED: 3,
    JobStatus.EXPIRED: 4,
}
_FILE_RANK = {
    FileStatus.PENDING: 0,
    FileStatus.STORED: 1,
    FileStatus.PROCESSING: 2,
    FileStatus.ALIGNED: 3,
    FileStatus.FAILED: 3,
    FileStatus.REJECTED: 3,
    FileStatus.EXPIRED: 4,
}


def advance(current: JobStatus, proposed: JobStatus) -> JobStatus:
    return proposed if _JOB_RANK[proposed] > _JOB_RANK[current] else current


def advance_file(current: FileStatus, proposed: FileStatus) -> FileStatus:
    return proposed if _FILE_RANK[proposed] > _FILE_RANK[current] else current
