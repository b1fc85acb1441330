"""Backup and restore (devstack.backup) of a whole stack: a user with a completed job,
backup while it runs, lose the schemas and the object store, restore with the system
stopped, start again: the same user logs in and downloads the same result bytes.

The stack runs its own SeaweedFS in its state folder, as ``make dev`` does, so that restore
starts (and stops) the S3 server itself, on an object store whose data is gone."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import httpx
import pytest

from devstack import Stack
from devstack.backup import BackupError, backup, restore
from devstack.provision import drop_databases
from devstack.testing import Infrastructure, free_port_block, isolated_stack_config, running_stack
from tests.e2e.helpers import eval_pair, new_user, submit, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"  # what new_user() registers with
PAIR = "timit/dr4-falr0_sx65"


def result_digest(client: httpx.Client, job_id: str) -> str:
    answer = client.get(f"/alignment/{job_id}/result", params={"format": "textgrid"})
    assert answer.status_code == 200, answer.text
    return hashlib.sha256(answer.content).hexdigest()


def test_restored_backup_serves_the_same_user_jobs_and_results(
    infrastructure: Infrastructure, tmp_path: Path
) -> None:
    config = isolated_stack_config(infrastructure, tmp_path / "state")
    config.s3_endpoint = config.s3_access_key = config.s3_secret_key = None  # our own S3
    config.s3_port = free_port_block()
    saved = tmp_path / "backup"
    with running_stack(config) as stack:
        user = new_user(stack)
        job = submit(user, eval_pair(PAIR)).json()
        assert wait_for(user, job["id"])["status"] == "COMPLETED"
        before = result_digest(user.client, job["id"])

        manifest = backup(stack, saved)
        assert any(o["key"].startswith(f"{user.id}/results/") for o in manifest["objects"])

        stack.stop()
        drop_databases(config)  # schemas and users gone
        shutil.rmtree(config.state_dir / "s3" / "data")  # and every object

        restore(Stack(config), saved)
        # Twice is refused: the schemas and the bucket are no longer empty.
        with pytest.raises(BackupError, match="not empty"):
            restore(Stack(config), saved)

        stack.start()
        base = stack.url("gateway") + "/api/v1"
        login = httpx.post(f"{base}/auth/login", json={"email": user.email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            jobs = client.get("/alignment/").json()["items"]
            assert [(j["id"], j["status"]) for j in jobs] == [(job["id"], "COMPLETED")]
            assert result_digest(client, job["id"]) == before


def test_a_running_stack_or_a_damaged_backup_is_refused(stack: Stack, tmp_path: Path) -> None:
    saved = tmp_path / "backup"
    manifest = backup(stack, saved)
    with pytest.raises(BackupError, match="stop the system"):
        restore(stack, saved)
    with pytest.raises(BackupError, match="not empty"):
        backup(stack, saved)
    dump = saved / "databases.sql"
    dump.write_bytes(dump.read_bytes().replace(b"INSERT", b"INSERT ", 1))
    with pytest.raises(BackupError, match="does not match the manifest"):
        restore(stack, saved)
    assert manifest["schemas"]["gateway"] == stack.config.schema("gateway")
