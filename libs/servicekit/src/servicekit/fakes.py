"""A unit of work without a database, for unit tests of use cases (cosmicpython style):
what is committed lands in ``outbox``; what is not is lost, as a rollback would lose it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from contracts import Event

__all__ = ["FakeUnitOfWork"]


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
