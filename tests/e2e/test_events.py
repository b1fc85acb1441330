"""GET /alignment/{id}/events: a job's progress as Server-Sent Events."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from devstack import Stack
from tests.e2e.helpers import User, eval_pair, new_user, submit, wait_for

pytestmark = pytest.mark.e2e

PAIRS = ("timit/dr4-falr0_sx65", "timit/dr4-falr0_si695")


def stream(
    user: User, job_id: str, arrived: threading.Event | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of every event until the server ends the stream; ``arrived`` is set
    at the first one."""
    events: list[tuple[str, dict[str, Any]]] = []
    name, data = "message", ""
    with user.client.stream("GET", f"/alignment/{job_id}/events", timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data += line.removeprefix("data:").strip()
            elif not line and data:
                events.append((name, json.loads(data)))
                name, data = "message", ""
                if arrived is not None:
                    arrived.set()
    return events


def fold(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The job as its stream tells it: the whole job, then what changed (a ``job`` event
    with ``files`` is the whole job again)."""
    name, job = events[0]
    assert name == "job" and "files" in job, "the first event is the whole job"
    for name, data in events[1:]:
        if name == "job":
            job = data if "files" in data else job | data
        elif name == "file":
            job["files"] = [data if f["id"] == data["id"] else f for f in job["files"]]
    return job


def test_a_job_streams_its_progress_until_it_is_done(stack: Stack) -> None:
    user = new_user(stack)
    job_id = submit(user, *(eval_pair(p) for p in PAIRS)).json()["id"]
    events = stream(user, job_id)
    assert {name for name, _ in events} == {"job", "file"}
    states = [data for name, data in events if name == "job"]
    assert states[-1]["status"] == "COMPLETED" and states[-1]["progress"] == 100
    assert len(states) >= 2  # it started unfinished, and said so before it was done
    assert set(states[-1]) == {"id", "status", "progress", "error"}  # only what changed
    progress = [s["progress"] for s in states]
    assert progress == sorted(progress)
    last_said = {data["id"]: data["status"] for name, data in events if name == "file"}
    assert last_said == {f["id"]: "ALIGNED" for f in events[0][1]["files"]}
    now = user.client.get(f"/alignment/{job_id}").json()
    told = fold(events)
    # updated_at comes with the whole job only
    assert told | {"updated_at": now["updated_at"]} == now
    # A finished job: its state once, and the stream ends.
    assert [s["status"] for _, s in stream(user, job_id)] == ["COMPLETED"]
    # Another user's job does not exist for them.
    other = new_user(stack).client.get(f"/alignment/{job_id}/events")
    assert other.status_code == 404 and other.json()["error"]["code"] == "job_not_found"


def test_a_stream_says_when_its_job_is_deleted(
    stack: Stack, paused_aligner: Callable[[int], None]
) -> None:
    user = new_user(stack)
    job_id = submit(user, eval_pair(PAIRS[0])).json()["id"]
    wait_for(user, job_id, done={"STORED"})  # and there it stays: the aligner is stopped
    events: list[tuple[str, dict[str, Any]]] = []
    streaming = threading.Event()
    reader = threading.Thread(target=lambda: events.extend(stream(user, job_id, streaming)))
    reader.start()
    assert streaming.wait(timeout=30), "no first event"
    assert user.client.delete(f"/alignment/{job_id}").status_code == 202
    reader.join(timeout=30)
    assert not reader.is_alive(), "the stream did not end"
    assert events[0] == ("job", events[0][1]) and events[0][1]["status"] == "STORED"
    assert events[-1] == ("deleted", {"id": job_id})
