"""Fakes for unit tests of use cases (cosmicpython style). A unit of work without a
database: what is committed lands in ``outbox``; what is not is lost, as a rollback would
lose it. An object store in memory, for what streams uploads into ``Objects``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from contracts import Event
from servicekit.objects import AsyncReader

__all__ = ["FakeUnitOfWork", "InMemoryObjects"]


@dataclass
class FakeUnitOfWork:
    outbox: list[tuple[Event, int | None]]  # (event, priority), shared by the test's units
    pending: list[tuple[Event, int | None]] = field(default_factory=list)
    actions: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.pending.clear()  # what was not committed is lost
        self.actions.clear()

    def emit(self, event: Event, *, correlation_id: str, priority: int | None = None) -> None:
        self.pending.append((event, priority))

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        self.actions.append(action)

    async def commit(self) -> None:
        self.outbox.extend(self.pending)
        self.pending.clear()
        actions, self.actions = self.actions, []
        for action in actions:
            await action()


class InMemoryObjects:
    """What uploads use of ``Objects`` (``put_stream``, ``delete``), in memory. An object
    exists from the moment its upload starts, so an upload cut short must be deleted like a
    finished one."""

    def __init__(self) -> None:
        self.objects: dict[str, bytearray] = {}

    async def put_stream(self, key: str, stream: AsyncReader, content_type: str) -> int:
        stored = self.objects.setdefault(key, bytearray())
        while data := await stream.read(1 << 16):
            stored += data
        return len(stored)

    async def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.objects.pop(key, None)
