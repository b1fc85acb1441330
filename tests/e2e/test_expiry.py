"""The janitor deletes what has expired and everyone hears of it.

Runs before the other job modules (file order): its clock is set just past this module's
own files, so files uploaded later by other modules are not due.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest

from devstack import Stack
from tests.e2e.helpers import User, eval_pair, new_user, object_keys, query, submit, wait_for

pytestmark = pytest.mark.e2e


def run_janitor(stack: Stack, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "janitor_service", "run-once", *args],
        env=stack.env("janitor"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_run_once_expires_files_past_their_retention(stack: Stack) -> None:
    user: User = new_user(stack)
    job = wait_for(user, submit(user, eval_pair("timit/dr4-falr0_sx65")).json()["id"])
    assert job["status"] == "COMPLETED"
    prefix_corpus, prefix_results = (
        f"{user.id}/corpus/{job['id']}/",
        f"{user.id}/results/{job['id']}/",
    )
    before = object_keys(stack, prefix_corpus) + object_keys(stack, prefix_results)
    assert len(before) == 4  # wav, txt, json, TextGrid

    deadline = time.monotonic() + 30  # the janitor hears of the results by event
    while (
        len(query(stack, "janitor", "SELECT 1 FROM expirations WHERE job_id = %s", job["id"])) < 4
    ):
        assert time.monotonic() < deadline, "the janitor never recorded the job's objects"
        time.sleep(0.2)
    [(expires_at,)] = query(
        stack, "janitor", "SELECT MAX(expires_at) FROM expirations WHERE job_id = %s", job["id"]
    )
    clock = (expires_at + timedelta(milliseconds=1)).isoformat()

    dry = run_janitor(stack, "--dry-run", "--now", clock)
    assert dry["dry_run"] and sorted(before) == sorted(set(dry["objects"]) & set(before))
    assert sorted(object_keys(stack, prefix_corpus) + object_keys(stack, prefix_results)) == sorted(
        before
    )
    assert user.client.get(f"/alignment/{job['id']}/download/audio").status_code == 200

    early = run_janitor(stack, "--now", (expires_at - timedelta(days=1)).isoformat())
    assert not set(early["objects"]) & set(before)

    real = run_janitor(stack, "--now", clock)
    assert set(before) <= set(real["objects"])
    assert object_keys(stack, prefix_corpus) == [] and object_keys(stack, prefix_results) == []

    expired = wait_for(user, job["id"], done={"EXPIRED"}, timeout=30)
    assert [f["status"] for f in expired["files"]] == ["EXPIRED"]
    for path in ("download/audio", "result", "audio/segment?start=0&end=1"):
        response = user.client.get(f"/alignment/{job['id']}/{path}")
        assert response.status_code == 410, (path, response.text)
        assert response.json()["error"]["code"] == "expired"
    deadline = time.monotonic() + 30  # storage marks the files gone when it hears of it
    while query(
        stack, "storage", "SELECT status FROM corpus_files WHERE job_id = %s", job["id"]
    ) != [("GONE",)]:
        assert time.monotonic() < deadline, "storage never marked the file gone"
        time.sleep(0.2)
