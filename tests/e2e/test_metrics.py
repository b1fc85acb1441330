"""A job moves the counters on the services that saw it, and a local Prometheus (as
``DEVSTACK_PROMETHEUS=1 make dev`` runs it) finds every service's target up."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack import Stack
from devstack.prometheus import PrometheusServer
from devstack.testing import free_port
from tests.e2e.helpers import eval_pair, new_user, submit, wait_for

pytestmark = pytest.mark.e2e


def samples(stack: Stack, service: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(stack.url(service) + "/metrics", timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= ls)


def test_a_completed_job_moves_the_counters(stack: Stack) -> None:
    user = new_user(stack)
    before = {s: samples(stack, s) for s in ("gateway", "aligner", "storage")}
    response = submit(user, eval_pair("timit/dr4-falr0_sx65"))
    assert response.status_code == 202, response.text
    job = wait_for(user, response.json()["id"])
    assert job["status"] == "COMPLETED", job
    after = {s: samples(stack, s) for s in ("gateway", "aligner", "storage")}

    def moved(service: str, name: str, **labels: str) -> float:
        return total(after[service], name, **labels) - total(before[service], name, **labels)

    assert moved("gateway", "jobs_submitted_total", plan="free", engine="default") == 1
    assert moved("gateway", "jobs_completed_total", plan="free", engine="default") == 1
    assert moved("gateway", "job_submit_seconds_count", plan="free") == 1
    assert moved("aligner", "alignment_real_time_factor_count") == 1
    assert moved("aligner", "alignment_seconds_count") == 1
    assert moved("aligner", "alignment_files_total", outcome="aligned") == 1
    assert moved("storage", "files_stored_total") == 1
    # Sampled when /metrics is read: the gateway's queues and outbox, RPC to auth, and the
    # middleware's counts of what the aligner took.
    gateway = after["gateway"]
    assert total(gateway, "rpc_client_seconds_count", outcome="ok") > 0
    assert total(gateway, "outbox_oldest_pending_seconds") < 60
    queues = {dict(ls)["queue"] for (n, ls) in gateway if n == "queue_messages"}
    assert any(q.endswith("gateway.alignment.done.v1") for q in queues), queues
    dead = {dict(ls)["queue"] for (n, ls) in gateway if n == "dead_letter_messages"}
    assert dead == queues
    assert total(gateway, "jobs_oldest_waiting_seconds", plan="free") == 0
    assert moved("aligner", "faststream_received_messages_total") >= 1


def test_a_refused_submit_is_counted_by_reason(stack: Stack) -> None:
    user = new_user(stack)
    before = samples(stack, "gateway")
    audio_name, audio, _, text = eval_pair("timit/dr4-falr0_sx65")
    response = submit(user, (audio_name, audio, "other.txt", text))
    assert response.status_code == 422, response.text
    after = samples(stack, "gateway")
    reason = {"reason": "unmatched_files"}
    assert (
        total(after, "submits_refused_total", **reason)
        - total(before, "submits_refused_total", **reason)
        == 1
    )


@pytest.fixture
def prometheus(stack: Stack) -> Iterator[PrometheusServer]:
    if shutil.which("prometheus") is None:
        pytest.fail("no prometheus binary: make system-deps installs it")
    server = PrometheusServer(stack.config, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_prometheus_sees_every_service_up(stack: Stack, prometheus: PrometheusServer) -> None:
    expected = {stack.config.service_of(name) for name in stack.names()}
    deadline = time.monotonic() + 30
    while True:
        targets = prometheus.targets()
        up = {t["labels"]["job"] for t in targets if t["health"] == "up"}
        if up >= expected or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert up == expected, [(t["labels"], t["health"], t["lastError"]) for t in targets]
    rules = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {g["name"] for g in rules} >= {"platform.recording", "platform.alerts"}
