"""An account's export, read a page at a time so that it costs a page of memory however
many jobs the account has."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from uuid import UUID

from gateway_service.adapters.repository import JobRecord, JobRepository
from servicekit import UnitOfWork

__all__ = ["EXPORT_PAGE", "job_pages"]

EXPORT_PAGE = 100


async def job_pages(
    unit_of_work: Callable[[], UnitOfWork], user_id: UUID, page_size: int = EXPORT_PAGE
) -> AsyncGenerator[list[JobRecord], None]:
    """The user's jobs, newest first, a page at a time. Each page is read in a unit of work
    of its own: no database connection is held while the client reads the last one."""
    before = None
    while True:
        async with unit_of_work() as uow:
            page = await JobRepository(uow.session).list(
                user_id, status=None, before=before, limit=page_size
            )
        if not page:
            return
        yield page
        before = (page[-1].created_at, page[-1].id)
