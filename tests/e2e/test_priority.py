"""Queue priority with aging: pro jobs go first, and a free job still gets its turn.

Each test stops the aligner, lets a backlog form in the job queue, and starts the aligner
again with the promotion delay it needs: long, to watch plain priorities; short, to watch
a waiting free job jump the queue."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from aligner_service.service_layer.aging import PROMOTED_PRIORITY
from devstack import Stack
from tests.e2e.helpers import (
    User,
    eval_pair,
    files_stored_event,
    query,
    submit,
    user_on_plan,
    wait_for,
)

pytestmark = pytest.mark.e2e

PAIR = "timit/dr4-falr0_sx65"  # 3 s of speech
# 27 s of speech, about a second to align: the promotion is on its way for a while (it
# first goes past the copies other tests left in the lane), and few pro jobs end meanwhile.
LONG_PAIR = "mfa_tests/acoustic_corpus"
PRO_JOBS = 8


def queue_jobs(stack: Stack, pro_pair: str = PAIR) -> tuple[User, str, User, list[str]]:
    """One free job, then pro jobs, all stored and waiting for the aligner."""
    free = user_on_plan(stack, queue_priority=1)
    pro = user_on_plan(stack, queue_priority=5, max_concurrent_jobs=PRO_JOBS)
    free_job = submit_job(free)
    wait_for(free, free_job, done={"STORED"})
    pro_jobs = [submit_job(pro, pro_pair) for _ in range(PRO_JOBS)]
    for job_id in pro_jobs:
        wait_for(pro, job_id, done={"STORED"})
    return free, free_job, pro, pro_jobs


def submit_job(user: User, pair: str = PAIR) -> str:
    response = submit(user, eval_pair(pair))
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def all_completed(free: User, free_job: str, pro: User, pro_jobs: list[str]) -> None:
    assert wait_for(free, free_job, timeout=120)["status"] == "COMPLETED"
    for job_id in pro_jobs:
        assert wait_for(pro, job_id, timeout=120)["status"] == "COMPLETED"


def runs(stack: Stack, job_ids: list[str]) -> dict[str, tuple[datetime, int, str]]:
    """job id -> (when its one file started, attempts, the work item that owns the file)."""
    rows = query(
        stack, "aligner", "SELECT job_id, started_at, attempts, owner FROM alignment_files"
    )
    found = {str(uuid.UUID(str(job))): (at, attempts, owner) for job, at, attempts, owner in rows}
    return {job_id: found[job_id] for job_id in job_ids}


def start_order(stack: Stack, free_job: str, pro_jobs: list[str]) -> list[str]:
    started = runs(stack, [free_job, *pro_jobs])
    assert {attempts for _, attempts, _ in started.values()} == {1}, "a job ran twice"
    return sorted(started, key=lambda job_id: started[job_id][0])


def test_pro_jobs_are_taken_before_an_older_free_job(
    stack: Stack, paused_aligner: Callable[[int], None]
) -> None:
    free, free_job, pro, pro_jobs = queue_jobs(stack)
    paused_aligner(600)  # no aging within this test
    all_completed(free, free_job, pro, pro_jobs)

    order = start_order(stack, free_job, pro_jobs)
    assert order[-1] == free_job, f"the free job ran before pro jobs stored after it: {order}"


def test_a_free_job_that_waited_too_long_jumps_the_pro_jobs(
    stack: Stack, paused_aligner: Callable[[int], None]
) -> None:
    free, free_job, pro, pro_jobs = queue_jobs(stack, LONG_PAIR)
    _, stored_at = files_stored_event(stack, free_job)
    promote_after = 2
    time.sleep(
        max(0.0, stored_at.replace(tzinfo=UTC).timestamp() + promote_after - time.time() + 0.5)
    )
    paused_aligner(promote_after)
    all_completed(free, free_job, pro, pro_jobs)

    order = start_order(stack, free_job, pro_jobs)
    # The aligner takes a pro job or two while the promotion is on its way; then the free job
    # (which without aging would run last).
    assert order.index(free_job) < PRO_JOBS // 2, f"the overdue free job waited: {order}"
    _, _, owner = runs(stack, [free_job])[free_job]
    [(original, priority)] = [
        (event_id, priority)
        for event_id, body, priority in query(
            stack,
            "aligner",
            "SELECT event_id, body, priority FROM outbox"
            " WHERE routing_key = 'alignment.file-queued.v1'",
        )
        if json.loads(body)["payload"]["job_id"] == free_job
    ]
    # Promoted: its file ran from a copy sent at the top priority, or (not even planned when
    # it became overdue) it was planned at the top priority.
    assert owner != original or priority == PROMOTED_PRIORITY, "the free job was not promoted"
