"""The kit's pure parts: logging context, readiness reporting, settings guards."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contracts import FilesStored, UserDeleted
from servicekit.health import add_operational_routes
from servicekit.logs import bind_context, configure_logging, get_logger
from servicekit.messaging import Topology
from servicekit.timing import stage


def test_every_log_line_carries_service_and_ids_and_no_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unit-test")
    log = get_logger("t")
    log.info("outside")
    with bind_context(correlation_id="c-1", job_id="j-1", user_id="u-1"):
        log.info("inside", password="hunter2", access_token="abc")
    logging.getLogger("some.library").warning("from the standard library")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["outside", "inside", "from the standard library"]
    for line in lines:
        assert line["service"] == "unit-test"
        assert {"correlation_id", "job_id", "user_id", "timestamp", "level"} <= set(line)
    assert lines[0]["job_id"] is None
    assert (lines[1]["correlation_id"], lines[1]["job_id"], lines[1]["user_id"]) == (
        "c-1",
        "j-1",
        "u-1",
    )
    assert lines[1]["password"] == "[redacted]" and lines[1]["access_token"] == "[redacted]"
    assert lines[2]["job_id"] is None  # the binding ended with its block


def test_readiness_is_503_naming_the_failing_dependency() -> None:
    async def ok() -> bool:
        return True

    async def broken() -> bool:
        raise ConnectionRefusedError

    async def unavailable() -> bool:
        return False

    app = FastAPI()
    add_operational_routes(
        app, "svc", {"database": ok, "broker": broken, "object_store": unavailable}
    )
    client = TestClient(app)
    assert client.get("/healthz").json() == {"status": "ok", "service": "svc"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "database": "ok",
        "broker": "error: ConnectionRefusedError",
        "object_store": "unavailable",
    }
    assert "http_requests_total" in client.get("/metrics").text


def test_queue_names_carry_namespace_service_and_version() -> None:
    topology = Topology(namespace="t1")
    queue = topology.event_queue("storage", FilesStored)
    assert queue.name == "t1.storage.files.stored.v1"
    assert queue.routing() == "files.stored.v1"
    assert queue.arguments["x-dead-letter-exchange"] == "t1.alignment.dead-letter"  # type: ignore[index]
    assert queue.arguments["x-queue-type"] == "quorum"  # type: ignore[index]
    assert topology.dead_letter_queue(queue).name == "t1.storage.files.stored.v1.dead"
    priority = topology.event_queue("aligner", UserDeleted, priority=True)
    assert priority.arguments["x-max-priority"] == 9  # type: ignore[index]
    assert Topology().events_exchange.name == "alignment.events"


def test_server_timing_names_each_stage_a_route_timed_and_the_whole() -> None:
    app = FastAPI()
    add_operational_routes(app, "svc", {})

    @app.get("/work")
    async def work() -> dict[str, str]:
        with stage("quota"):
            await asyncio.sleep(0.01)
        for _ in range(2):  # a stage timed twice counts once, summed
            with stage("upload"):
                await asyncio.sleep(0.005)
        return {}

    header = TestClient(app).get("/work").headers["server-timing"]
    timings = {name: float(ms) for name, ms in re.findall(r"(\w+);dur=([0-9.]+)", header)}
    assert list(timings) == ["app", "quota", "upload"]
    assert timings["quota"] >= 10 and timings["upload"] >= 10
    assert timings["app"] >= timings["quota"] + timings["upload"]
    with stage("outside a request"):  # nothing collects it, nothing fails
        pass
