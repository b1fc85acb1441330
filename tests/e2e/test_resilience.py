"""A worker killed mid-job loses nothing and does nothing twice."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from devstack import Stack
from tests.e2e.helpers import EVAL, eval_pair, new_user, object_keys, query, submit, wait_for

pytestmark = pytest.mark.e2e


def test_killing_the_aligner_mid_job_completes_it_exactly_once(stack: Stack) -> None:
    user = new_user(stack)
    names = sorted(
        p.with_suffix("").relative_to(EVAL).as_posix() for p in (EVAL / "timit").glob("*.wav")
    )
    response = submit(user, *(eval_pair(name) for name in names))
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    deadline = time.monotonic() + 120
    while True:
        job = user.client.get(f"/alignment/{job_id}").json()
        if job["status"] == "PROCESSING" and job["progress"] >= 10:
            break
        assert job["status"] in {"PENDING", "STORED", "PROCESSING"}, "finished before the kill"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stack.stop_service("aligner", kill=True)  # SIGKILL: no goodbye, no ack
    stack.start_service("aligner")
    stack.wait_ready(("aligner",))

    job = wait_for(user, job_id, timeout=300)
    assert job["status"] == "COMPLETED"
    aligned = [f for f in job["files"] if f["status"] == "ALIGNED"]
    assert len(aligned) >= len(names) // 2
    assert all(f["status"] in {"ALIGNED", "FAILED"} for f in job["files"])

    [(status,)] = query(
        stack, "aligner", "SELECT status FROM alignment_runs WHERE job_id = %s", job_id
    )
    assert status == "COMPLETED"
    attempts = [
        a
        for (a,) in query(
            stack, "aligner", "SELECT attempts FROM alignment_files WHERE job_id = %s", job_id
        )
    ]
    # Only the file it was aligning when it died is done again.
    assert sorted(attempts)[:-1] == [1] * (len(names) - 1) and attempts.count(2) <= 1
    done = query(
        stack,
        "aligner",
        "SELECT COUNT(*) FROM outbox WHERE routing_key = 'alignment.done.v1' AND body LIKE %s",
        f'%"job_id":"{job_id}"%',
    )
    assert done == [(1,)], "one AlignmentDone"
    results = object_keys(stack, f"{user.id}/results/{job_id}/")
    assert sorted(Path(k).suffix for k in results) == sorted([".json", ".TextGrid"] * len(aligned))


def test_the_aligner_stays_ready_while_it_aligns(stack: Stack) -> None:
    """Its readiness probe (database, broker, S3) answers at once all through a long job:
    the engines run off the event loop and leave the database pool free."""
    user = new_user(stack)
    names = sorted(
        p.with_suffix("").relative_to(EVAL).as_posix() for p in (EVAL / "timit").glob("*.wav")
    )[:40]
    response = submit(user, *(eval_pair(name) for name in names))
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    wait_for(user, job_id, timeout=120, done={"PROCESSING", "COMPLETED"})
    probes: list[tuple[int, float]] = []
    while user.client.get(f"/alignment/{job_id}").json()["status"] == "PROCESSING":
        started = time.monotonic()
        probe = httpx.get(stack.url("aligner") + "/readyz", timeout=10)
        probes.append((probe.status_code, time.monotonic() - started))
        time.sleep(0.1)
    assert len(probes) >= 10, "the job ended before the aligner was probed"
    slow = [
        (status, round(seconds, 2)) for status, seconds in probes if status != 200 or seconds > 1
    ]
    assert not slow, f"{len(slow)} of {len(probes)} probes failed or were slow: {slow[:10]}"
    assert wait_for(user, job_id, timeout=120)["status"] == "COMPLETED"
