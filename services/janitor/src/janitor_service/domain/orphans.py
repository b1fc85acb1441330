"""Which uploaded parts under ``incoming/`` nobody will take any more: the rule, no I/O.

The gateway streams each part of an upload to ``incoming/{user_id}/{job_id}/{field}-{i}``
and only then has the job's quota reserved and its JobSubmitted recorded; storage turns a
submitted job's parts into the corpus and deletes them. A gateway that dies in between
leaves parts that no event will ever name. So, for the parts of one upload, judged by its
newest part (an upload still streaming keeps adding parts):

- younger than the grace period: leave them (the upload may still be going on);
- of a job storage has answered (FilesStored or FilesRejected): leftovers, storage's own
  deletion failed; they go, and nobody needs to hear of it;
- of a job known to be submitted, not answered yet: storage's, leave them;
- of any other job: the upload was abandoned; they go, and auth and storage hear of it
  (auth releases the job's reservation, storage will never store the job);
- a key not of that shape (no event could name it): it goes.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

__all__ = [
    "INCOMING",
    "IncomingObject",
    "KnownJobs",
    "Orphans",
    "Upload",
    "find_orphans",
    "group_uploads",
    "upload_of",
]

INCOMING = "incoming/"


@dataclass(frozen=True)
class IncomingObject:
    key: str
    last_modified: datetime  # naive UTC, like every time in the janitor


@dataclass(frozen=True)
class Upload:
    """The parts of one upload; ``job_id`` is None for a key of no upload's shape."""

    user_id: UUID | None
    job_id: UUID | None
    keys: tuple[str, ...]
    last_modified: datetime  # of the newest part


@dataclass(frozen=True)
class KnownJobs:
    submitted: Set[UUID] = frozenset()
    answered: Set[UUID] = frozenset()  # by storage; may hold jobs not in ``submitted``


@dataclass
class Orphans:
    abandoned: list[Upload] = field(default_factory=list)  # deleted, and announced
    leftovers: list[Upload] = field(default_factory=list)  # deleted silently

    @property
    def keys(self) -> list[str]:
        return [key for upload in self.abandoned + self.leftovers for key in upload.keys]


def upload_of(key: str) -> tuple[UUID, UUID] | None:
    """``(user_id, job_id)`` of ``incoming/{user_id}/{job_id}/{part}``, else None."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] + "/" != INCOMING or not parts[3]:
        return None
    try:
        return UUID(parts[1]), UUID(parts[2])
    except ValueError:
        return None


def group_uploads(objects: Iterable[IncomingObject]) -> list[Upload]:
    """One :class:`Upload` per (user, job), and one per key of no upload's shape."""
    by_job: dict[tuple[UUID, UUID], list[IncomingObject]] = {}
    uploads: list[Upload] = []
    for item in objects:
        ids = upload_of(item.key)
        if ids is None:
            uploads.append(Upload(None, None, (item.key,), item.last_modified))
        else:
            by_job.setdefault(ids, []).append(item)
    for (user_id, job_id), items in by_job.items():
        keys = tuple(sorted(i.key for i in items))
        uploads.append(Upload(user_id, job_id, keys, max(i.last_modified for i in items)))
    return sorted(uploads, key=lambda u: (u.last_modified, u.keys))


def find_orphans(
    objects: Iterable[IncomingObject], known: KnownJobs, *, grace: timedelta, now: datetime
) -> Orphans:
    """What of ``objects`` may go at ``now`` (see the module's docstring)."""
    orphans = Orphans()
    for upload in group_uploads(objects):
        if now - upload.last_modified <= grace:  # only what is older than the grace
            continue
        if upload.job_id is None or upload.job_id in known.answered:
            orphans.leftovers.append(upload)
        elif upload.job_id not in known.submitted:
            orphans.abandoned.append(upload)
    return orphans
