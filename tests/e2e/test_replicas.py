"""Aligner replicas, as ``DEVSTACK_ALIGNER_REPLICAS=3 make dev`` runs them: three processes,
each ready on its own port with its own log; one killed (SIGKILL) and started again while
jobs still complete."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack import Stack
from devstack.testing import Infrastructure, isolated_stack_config, running_stack
from tests.e2e.helpers import EVAL, eval_pair, new_user, query, submit, wait_for

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


def corpus(count: int) -> list[tuple[str, bytes, str, bytes]]:
    names = sorted(
        p.with_suffix("").relative_to(EVAL).as_posix() for p in (EVAL / "timit").glob("*.wav")
    )
    return [eval_pair(name) for name in names[:count]]


def file_runs(stack: Stack, job_id: str) -> list[tuple[str, int, str | None]]:
    """(state, attempts, worker) of each of the job's files, as the aligner keeps them."""
    return [
        (state, attempts, worker)
        for state, attempts, worker in query(
            stack,
            "aligner",
            "SELECT state, attempts, worker FROM alignment_files WHERE job_id = %s",
            job_id,
        )
    ]


def alignment_done_count(stack: Stack, job_id: str) -> int:
    [(count,)] = query(
        stack,
        "aligner",
        "SELECT COUNT(*) FROM outbox WHERE routing_key = 'alignment.done.v1' AND body LIKE %s",
        f'%"job_id":"{job_id}"%',
    )
    return int(count)


def test_a_corpus_is_spread_over_the_replicas_and_done_once(replicated: Stack) -> None:
    user = new_user(replicated)
    response = submit(user, *corpus(20))
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    job = wait_for(user, job_id, timeout=300)
    assert job["status"] == "COMPLETED", job
    runs = file_runs(replicated, job_id)
    assert len(runs) == 20
    workers = {worker for _, _, worker in runs}
    assert len(workers) >= 2, f"one replica did it all: {workers}"
    assert workers <= set(replicated.aligner_names())
    assert alignment_done_count(replicated, job_id) == 1


def test_a_replica_killed_mid_corpus_costs_only_its_file_a_second_attempt(
    replicated: Stack,
) -> None:
    user = new_user(replicated)
    response = submit(user, *corpus(30))
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while not any(
        state == "RUNNING" and worker == VICTIM
        for state, _, worker in file_runs(replicated, job_id)
    ):
        assert time.monotonic() < deadline, "the victim never took a file"
        time.sleep(0.02)
    replicated.stop_service(VICTIM, kill=True)  # in the middle of its file
    try:
        job = wait_for(user, job_id, timeout=300)
    finally:
        replicated.start_service(VICTIM)
        replicated.wait_ready((VICTIM,))
    assert job["status"] == "COMPLETED", job
    attempts = sorted(a for _, a, _ in file_runs(replicated, job_id))
    assert attempts[:-1] == [1] * 29 and attempts[-1] in (1, 2), attempts
    assert alignment_done_count(replicated, job_id) == 1


def test_deleting_a_job_mid_corpus_cancels_the_files_not_started(replicated: Stack) -> None:
    user = new_user(replicated)
    response = submit(user, *corpus(40))
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while sum(state == "ALIGNED" for state, _, _ in file_runs(replicated, job_id)) < 3:
        assert time.monotonic() < deadline, "no file was aligned"
        time.sleep(0.05)
    assert user.client.delete(f"/alignment/{job_id}").status_code == 202
    # Running files finish; the rest never start.
    deadline = time.monotonic() + 60
    while any(state in {"PENDING", "RUNNING"} for state, _, _ in file_runs(replicated, job_id)):
        assert time.monotonic() < deadline, file_runs(replicated, job_id)
        time.sleep(0.2)
    states = [state for state, _, _ in file_runs(replicated, job_id)]
    assert states.count("CANCELLED") > 0, states
    assert set(states) <= {"ALIGNED", "FAILED", "CANCELLED"}
    assert states.count("ALIGNED") < 40
    assert alignment_done_count(replicated, job_id) == 1
