"""DELETE /alignment/{id}: the job goes from the API at once, and its files, results and
storage quota follow within moments, whatever state the job was in."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devstack import Stack
from tests.e2e.helpers import (
    User,
    counted_usage,
    eval_pair,
    eventually,
    files_stored_event,
    new_user,
    object_keys,
    query,
    submit,
    usage,
    wait_for,
)

pytestmark = pytest.mark.e2e

PAIR = "timit/dr4-falr0_sx65"


def objects_of(stack: Stack, user: User, job_id: str) -> list[str]:
    """Every object of the job: uploads, canonical files and results."""
    keys = object_keys(stack, f"{user.id}/") + object_keys(stack, f"incoming/{user.id}/")
    return [key for key in keys if job_id in key]


def delete(user: User, job_id: str) -> None:
    response = user.client.delete(f"/alignment/{job_id}")
    assert response.status_code == 202, response.text
    assert response.json() == {"id": job_id, "status": "DELETED"}


def assert_gone(stack: Stack, user: User, job_id: str) -> None:
    """Gone from the API at once; objects and quota bytes follow."""
    assert user.client.get(f"/alignment/{job_id}").status_code == 404
    assert user.client.get(f"/alignment/{job_id}/files").status_code == 404
    assert job_id not in [j["id"] for j in user.client.get("/alignment/").json()["items"]]
    again = user.client.delete(f"/alignment/{job_id}")
    assert again.status_code == 404 and again.json()["error"]["code"] == "job_not_found"
    eventually(lambda: not objects_of(stack, user, job_id), "the job's objects are still there")
    eventually(
        lambda: usage(user)["storage_bytes_used"] == 0 == usage(user)["storage_bytes_reserved"],
        f"the job's bytes still count: {usage(user)}",
    )


def test_deleting_a_finished_job_deletes_its_files_and_results(stack: Stack) -> None:
    user = new_user(stack)
    job_id = submit(user, eval_pair(PAIR)).json()["id"]
    assert wait_for(user, job_id)["status"] == "COMPLETED"
    minutes = counted_usage(user)["audio_minutes_used"]
    kept = objects_of(stack, user, job_id)
    assert any("/results/" in key for key in kept) and len(kept) >= 4

    delete(user, job_id)
    assert_gone(stack, user, job_id)
    assert usage(user)["audio_minutes_used"] == minutes  # aligned audio stays counted
    statuses = query(stack, "storage", "SELECT status FROM corpus_files WHERE job_id = %s", job_id)
    assert [s for (s,) in statuses] == ["GONE"]


def test_a_job_deleted_before_it_was_aligned_is_cancelled_and_leaves_nothing(
    stack: Stack, paused_aligner: Callable[[int], None]
) -> None:
    user = new_user(stack)
    job_id = submit(user, eval_pair(PAIR)).json()["id"]
    wait_for(user, job_id, done={"STORED"})
    delete(user, job_id)
    paused_aligner(300)
    assert_gone(stack, user, job_id)
    # The aligner got the job's FilesStored and let it be.
    event_id, _ = files_stored_event(stack, job_id)
    eventually(
        lambda: bool(query(stack, "aligner", "SELECT 1 FROM inbox WHERE event_id = %s", event_id)),
        "the aligner never got the job's FilesStored",
    )
    [(status, attempts)] = query(
        stack, "aligner", "SELECT status, attempts FROM alignment_runs WHERE job_id = %s", job_id
    )
    # Both messages waited for the aligner: the deletion is consumed first (attempts 0),
    # unless the job's delivery won the race (then its results were deleted as well).
    assert status == "CANCELLED" and attempts in (0, 1)


def test_a_job_deleted_before_its_files_were_stored_leaves_nothing(stack: Stack) -> None:
    """Storage may see the deletion before or after the submission: either way, nothing."""
    user = new_user(stack)
    stack.stop_service("storage")
    try:
        job_id = submit(user, eval_pair(PAIR)).json()["id"]
        assert usage(user)["storage_bytes_reserved"] > 0
        delete(user, job_id)
    finally:
        stack.start_service("storage")
        stack.wait_ready(("storage",))
    assert_gone(stack, user, job_id)
