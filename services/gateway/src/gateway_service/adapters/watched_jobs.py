"""The change feed's reads of the jobs read model: a version per watched job in one query,
and the jobs that changed, with their files, in two. Every statement is counted on
``/metrics`` (``gateway_event_stream_queries_total``), whatever the number of streams."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from prometheus_client import Counter
from sqlalchemy import select

from gateway_service.adapters.repository import FileRecord, JobRecord
from gateway_service.adapters.repository import _file as file_record
from gateway_service.adapters.tables import job_files, jobs
from gateway_service.domain.jobs import JobStatus
from servicekit import UnitOfWork

__all__ = ["STREAM_QUERIES", "WatchedJobs"]

STREAM_QUERIES = Counter(
    "gateway_event_stream_queries_total",
    "Statements the job event streams ran on the read model (all streams of the process)",
    ["query"],
)
CHUNK = 500  # ids per IN list


class WatchedJobs:
    """Reads for :class:`~gateway_service.service_layer.job_changes.JobChanges`; each call
    is one short transaction of its own."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._uow = unit_of_work

    async def versions(self, job_ids: Collection[UUID]) -> dict[UUID, datetime]:
        """``updated_at`` of each of these jobs that still exists."""
        found: dict[UUID, datetime] = {}
        async with self._uow() as uow:
            for chunk in _chunks(job_ids):
                STREAM_QUERIES.labels("versions").inc()
                rows = await uow.session.execute(
                    select(jobs.c.id, jobs.c.updated_at).where(jobs.c.id.in_(chunk))
                )
                found.update({row.id: row.updated_at for row in rows})
        return found

    async def load(self, job_ids: Collection[UUID]) -> list[JobRecord]:
        """These jobs (those that still exist) with their files, as one snapshot."""
        loaded: list[JobRecord] = []
        async with self._uow() as uow:
            for chunk in _chunks(job_ids):
                STREAM_QUERIES.labels("jobs").inc()
                rows = (await uow.session.execute(select(jobs).where(jobs.c.id.in_(chunk)))).all()
                if not rows:
                    continue
                STREAM_QUERIES.labels("files").inc()
                files = await uow.session.execute(
                    select(job_files)
                    .where(job_files.c.job_id.in_([row.id for row in rows]))
                    .order_by(job_files.c.job_id, job_files.c.file_index)
                )
                by_job: dict[UUID, list[FileRecord]] = {row.id: [] for row in rows}
                for f in files:
                    by_job[f.job_id].append(file_record(f))
                loaded += [_job(row, by_job[row.id]) for row in rows]
        return loaded


def _chunks(job_ids: Collection[UUID]) -> Iterator[list[UUID]]:
    ids = list(job_ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _job(row: Any, files: list[FileRecord]) -> JobRecord:
    """A ``jobs`` row as the repository makes it (its files loaded with the others')."""
    values = dict(row._mapping)
    values.pop("idempotency_key")
    values["status"] = JobStatus(values["status"])
    values["options"] = json.loads(values["options"])
    return JobRecord(**values, files=files)
