"""Event streams at scale: 200 streams open on one job cost the gateway's database what one
stream does, and every one of them still gets the job's progress and its completion.

The database work is the gateway's own count of the statements its event streams run
(``gateway_event_stream_queries_total`` on ``/metrics``): the shared poll's and the reads of
a job no stream watched yet. Before the change feed each stream read the job (two
statements) twice a second: 200 streams, 800 statements a second.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack import Stack
from gateway_service.service_layer.job_changes import POLL_SECONDS
from tests.e2e.helpers import eval_pair, new_user, submit, wait_for
from tests.e2e.test_events import fold

pytestmark = pytest.mark.e2e

STREAMS = 200
WINDOW_SECONDS = 5.0
PAIRS = (
    "timit/dr4-falr0_sx65",
    "timit/dr4-falr0_si695",
    "timit/dr1-fvmh0_sa1",
    "timit/dr1-fvmh0_sa2",
)


def budget(seconds: float) -> float:
    """Statements a process may run in ``seconds`` whatever its streams: per poll, one for
    the versions and two for the jobs that moved; plus one read of a job newly watched."""
    return 3 * (seconds / POLL_SECONDS + 1) + 2


@dataclass
class Reader:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    first: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


async def read(client: httpx.AsyncClient, job_id: str, reader: Reader) -> None:
    name, data = "message", ""
    async with client.stream("GET", f"/alignment/{job_id}/events") as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                name = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data += line.removeprefix("data:").strip()
            elif not line and data:
                reader.events.append((name, json.loads(data)))
                name, data = "message", ""
                reader.first.set()


async def open_streams(client: httpx.AsyncClient, job_id: str, count: int) -> list[Reader]:
    readers = [Reader() for _ in range(count)]
    for reader in readers:
        reader.task = asyncio.create_task(read(client, job_id, reader))
    firsts = asyncio.gather(*(r.first.wait() for r in readers))
    await asyncio.wait_for(firsts, timeout=60)
    return readers


async def metric(client: httpx.AsyncClient, gateway: str, family: str) -> float:
    text = (await client.get(f"{gateway}/metrics")).text
    return sum(
        sample.value
        for found in text_string_to_metric_families(text)
        if found.name == family
        for sample in found.samples
        if not sample.name.endswith("_created")
    )


@dataclass
class Scenario:
    stack: Stack
    client: httpx.AsyncClient
    job_id: str

    async def queries(self) -> float:
        gateway = self.stack.url("gateway")
        return await metric(self.client, gateway, "gateway_event_stream_queries")

    async def open_streams(self) -> float:
        gateway = self.stack.url("gateway")
        return await metric(self.client, gateway, "gateway_event_streams_open")

    async def queries_during(self, seconds: float) -> float:
        before = await self.queries()
        await asyncio.sleep(seconds)
        return await self.queries() - before

    async def until_no_stream_is_open(self) -> None:
        deadline = time.monotonic() + 10
        while await self.open_streams() > 0:
            assert time.monotonic() < deadline, "a stream stayed subscribed after it ended"
            await asyncio.sleep(0.2)


def test_two_hundred_streams_cost_the_database_what_one_does(
    stack: Stack, paused_aligner: Callable[[int], None]
) -> None:
    user = new_user(stack)
    job_id = submit(user, *(eval_pair(p) for p in PAIRS)).json()["id"]
    wait_for(user, job_id, done={"STORED"})  # and there it stays until the aligner starts
    limits = httpx.Limits(max_connections=STREAMS + 20, max_keepalive_connections=20)
    client = httpx.AsyncClient(
        base_url=str(user.client.base_url),
        headers=dict(user.client.headers),
        timeout=httpx.Timeout(180, connect=30),
        limits=limits,
    )

    async def scenario() -> dict[str, float]:
        async with client:
            run = Scenario(stack, client, job_id)
            await run.until_no_stream_is_open()
            [one] = await open_streams(client, job_id, 1)
            one_idle = await run.queries_during(WINDOW_SECONDS)
            assert one.task is not None
            one.task.cancel()  # the client goes away
            await asyncio.gather(one.task, return_exceptions=True)
            await run.until_no_stream_is_open()

            before, opening = await run.queries(), time.monotonic()
            many = await open_streams(client, job_id, STREAMS)
            open_cost = await run.queries() - before
            open_seconds = time.monotonic() - opening
            assert await run.open_streams() == STREAMS
            many_idle = await run.queries_during(WINDOW_SECONDS)

            before, started = await run.queries(), time.monotonic()
            await asyncio.to_thread(paused_aligner, 300)  # the streams read on meanwhile
            await asyncio.wait_for(asyncio.gather(*(r.task for r in many if r.task)), 180)
            active = await run.queries() - before
            active_seconds = time.monotonic() - started
            await run.until_no_stream_is_open()
            for reader in many:
                check_stream(reader.events, user.client.get(f"/alignment/{job_id}").json())
            return {
                "one_idle": one_idle,
                "many_idle": many_idle,
                "open_cost": open_cost,
                "open_seconds": open_seconds,
                "active": active,
                "active_seconds": active_seconds,
            }

    found = asyncio.run(scenario())
    print(f"\nstatements of the event streams: {found}")
    assert found["one_idle"] <= budget(WINDOW_SECONDS), found
    assert found["many_idle"] <= found["one_idle"] + 2, found  # 800 a second before
    assert found["open_cost"] <= budget(found["open_seconds"]), found
    assert found["active"] <= budget(found["active_seconds"]), found


def check_stream(events: list[tuple[str, dict[str, Any]]], now: dict[str, Any]) -> None:
    """One stream told the whole story: stored, its progress, each file aligned, done."""
    assert events[0][0] == "job" and events[0][1]["status"] == "STORED"
    changes = [data for name, data in events[1:] if name == "job"]
    assert any(c["status"] == "PROCESSING" and c["progress"] < 100 for c in changes), events
    assert changes[-1]["status"] == "COMPLETED" and changes[-1]["progress"] == 100
    progress = [c["progress"] for c in changes]
    assert progress == sorted(progress)
    told = fold(events)
    assert {f["status"] for f in told["files"]} == {"ALIGNED"}
    assert told | {"updated_at": now["updated_at"]} == now
