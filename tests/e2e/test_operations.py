"""The operator commands of docs/operations.md against a running stack: ``devstack smoke``
(what ``make smoke URL=...`` runs), ``devstack migrate`` and ``devstack dead-letters``."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from devstack import SERVICES, Stack
from devstack.ops import dead_letters, migrate
from devstack.testing import free_port
from tests.e2e.helpers import query

pytestmark = pytest.mark.e2e


def smoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", "smoke", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ.copy(),
    )


def service_options(stack: Stack, **urls: str) -> list[str]:
    return [f"--service={s}={urls.get(s, stack.url(s))}" for s in SERVICES if s != "gateway"]


def test_smoke_passes_against_a_running_stack_within_a_minute(stack: Stack) -> None:
    services = service_options(stack)
    started = time.monotonic()
    done = smoke(stack.url("gateway"), *services)
    assert done.returncode == 0, done.stdout + done.stderr
    assert time.monotonic() - started < 60
    for step in ("auth ready", "aligner ready", "COMPLETED", "download the result", "delete"):
        assert step in done.stdout, done.stdout
    assert "smoke passed" in done.stdout


def test_smoke_fails_clearly_when_a_service_is_down(stack: Stack) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    done = smoke(stack.url("gateway"), *service_options(stack, aligner=dead))
    assert done.returncode == 1
    assert "SMOKE FAILED: aligner ready at" in done.stderr, done.stderr


def test_migrate_finds_every_schema_at_head_and_changes_nothing(stack: Stack) -> None:
    before = query(stack, "gateway", "SELECT version_num FROM alembic_version")
    migrate(stack)  # beside the running services, as a one-shot job would
    assert query(stack, "gateway", "SELECT version_num FROM alembic_version") == before


def test_dead_letters_lists_a_service_queues_with_its_settings(
    stack: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    assert dead_letters(stack, "storage", ["list"]) == 0
    listed = capfd.readouterr().out
    assert f"{stack.config.namespace}.storage.job.submitted.v1.dead" in listed, listed
