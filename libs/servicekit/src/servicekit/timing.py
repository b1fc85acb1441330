"""Where a request's time goes: named stages, sent to the client in ``Server-Timing``.

``with stage("quota"): ...`` inside a request adds ``quota;dur=12.3`` to the response's
Server-Timing header (beside ``app``, the whole). Outside a request it costs nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["StageTimes", "server_timing", "stage", "timed_stages"]

StageTimes = list[tuple[str, float]]

# A list bound per request before the route runs: the route's own task (a copy of the
# context) appends to the same list object, which the middleware reads afterwards.
_stages: ContextVar[StageTimes | None] = ContextVar("request_stages", default=None)


@contextmanager
def timed_stages() -> Iterator[StageTimes]:
    """Collect the stages timed inside this block (one request)."""
    stages: StageTimes = []
    token = _stages.set(stages)
    try:
        yield stages
    finally:
        _stages.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    stages = _stages.get()
    if stages is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        stages.append((name, (time.perf_counter() - started) * 1000))


def server_timing(total_ms: float, stages: StageTimes) -> str:
    """The header's value: the whole first, then each stage (repeated names summed)."""
    summed: dict[str, float] = {}
    for name, ms in stages:
        summed[name] = summed.get(name, 0.0) + ms
    return ", ".join(
        [f"app;dur={total_ms:.1f}", *(f"{name};dur={ms:.1f}" for name, ms in summed.items())]
    )
