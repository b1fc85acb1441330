"""Aligner replicas, as ``DEVSTACK_ALIGNER_REPLICAS=3 make dev`` runs them: three processes,
each ready on its own port with its own log; one killed (SIGKILL) and started again while
jobs still complete."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack import Stack
from devstack.testing import Infrastructure, isolated_stack_config, running_stack
from tests.e2e.helpers import eval_pair, new_user, submit, wait_for

pytestmark = pytest.mark.e2e

REPLICAS = 3
PAIR = "timit/dr4-falr0_sx65"  # 3 s of speech
VICTIM = "aligner-2"


@pytest.fixture(scope="module")
def replicated(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    config = isolated_stack_config(
        infrastructure, Path(tmp_path_factory.mktemp("replicas")), aligner_replicas=REPLICAS
    )
    with running_stack(config) as stack:
        yield stack


def ready(stack: Stack, name: str) -> int:
    return httpx.get(stack.url(name) + "/readyz", timeout=5).status_code


def one_pair_job_completes(stack: Stack) -> str:
    user = new_user(stack)
    response = submit(user, eval_pair(PAIR))
    assert response.status_code == 202, response.text
    job = wait_for(user, response.json()["id"])
    assert job["status"] == "COMPLETED", job
    return str(job["id"])


def test_every_replica_is_ready_on_its_own_port_with_its_own_log(replicated: Stack) -> None:
    names = replicated.aligner_names()
    assert names == ("aligner", "aligner-2", "aligner-3")
    assert set(names) <= set(replicated.processes)
    ports = [replicated.config.ports[name] for name in names]
    assert len(set(ports)) == REPLICAS
    assert not set(ports) & {replicated.config.ports[s] for s in ("gateway", "janitor")}
    pids = {replicated.processes[name].pid for name in names}
    assert len(pids) == REPLICAS
    for name in names:
        assert replicated.processes[name].poll() is None, name
        assert ready(replicated, name) == 200, name
        log = replicated.config.logs_dir / f"{name}.log"
        assert log.is_file(), log
        # uvicorn says where it listens: this log is the process on this port.
        assert f"127.0.0.1:{replicated.config.ports[name]}" in log.read_text(), log


def test_a_killed_replica_starts_again_and_jobs_still_complete(replicated: Stack) -> None:
    process = replicated.processes[VICTIM]
    replicated.stop_service(VICTIM, kill=True)
    assert process.returncode == -signal.SIGKILL
    with pytest.raises(httpx.TransportError):
        ready(replicated, VICTIM)
    others = [name for name in replicated.aligner_names() if name != VICTIM]
    assert all(ready(replicated, name) == 200 for name in others)

    one_pair_job_completes(replicated)  # the other replicas take it

    restarted = replicated.start_service(VICTIM)
    replicated.wait_ready((VICTIM,))
    assert restarted.pid != process.pid
    assert ready(replicated, VICTIM) == 200
    job_id = one_pair_job_completes(replicated)
    logs = [
        (replicated.config.logs_dir / f"{name}.log").read_text()
        for name in replicated.aligner_names()
    ]
    assert any(job_id in log for log in logs), "no aligner replica logged the job"
