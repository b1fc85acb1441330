"""The broker connection drops and comes back: every line is JSON, the lost connection and
the reconnect attempts are warnings, and only the handlers' real failures are errors."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker, RabbitQueue

from contracts import Envelope, UserRegistered
from servicekit.db import Database
from servicekit.logs import broker_logger, configure_logging
from servicekit.messaging import EventConsumers, Topology
from servicekit.outbox import UnitOfWork

from .conftest import TcpProxy, via_proxy

pytestmark = pytest.mark.integration

CONTEXT_KEYS = {"service", "correlation_id", "job_id", "user_id", "level", "timestamp", "event"}


@pytest.fixture
async def topology(amqp_url: str) -> AsyncIterator[Topology]:
    topology = Topology(namespace="t" + secrets.token_hex(4), delivery_limit=3)
    yield topology
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = topology.event_queue("kit-test", UserRegistered)
        for name in (queue.name, topology.dead_letter_queue(queue).name):
            await channel.queue_delete(name)
        await channel.queue_delete(topology.unrouted_queue.name)
        # the retry queues and exchanges where the kit has them
        for retry_queue in getattr(topology, "retry_queues", list)():
            await channel.queue_delete(retry_queue.name)
        exchanges = [topology.events_exchange, topology.dead_letter_exchange]
        exchanges += [topology.unrouted_exchange, *getattr(topology, "retry_exchanges", list)()]
        for exchange in exchanges:
            await channel.exchange_delete(exchange.name)


async def eventually(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not in {timeout} s")
        await asyncio.sleep(0.1)


class Output:
    """What the process wrote to stdout and stderr (where a service logs), so far."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.text = ""

    def read(self) -> str:
        captured = self.capsys.readouterr()
        self.text += captured.out + captured.err
        return self.text

    def lines(self) -> list[dict[str, Any]]:
        raw = self.read().splitlines()
        assert all("\x1b[" not in line for line in raw), "colour codes in the log"
        lines = [json.loads(line) for line in raw]  # fails on any line that is not JSON
        for line in lines:
            assert set(line) >= CONTEXT_KEYS, line
        return lines


async def test_a_broker_outage_logs_json_warnings_and_handler_failures_stay_errors(
    amqp_url: str,
    db: Database,
    topology: Topology,
    broker_proxy: TcpProxy,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    configure_logging("kit-test", "INFO")  # to stdout, as a service does
    output = Output(capsys)
    handled: list[str] = []
    failed_once: set[str] = set()

    async def record(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        if event.correlation_id == "fails-once" and str(event.event_id) not in failed_once:
            failed_once.add(str(event.event_id))
            raise RuntimeError("handler failed on the first delivery")
        handled.append(event.correlation_id)

    # Configured as ServiceRuntime does (but retrying the connection every 0.5 s).
    broker = RabbitBroker(
        via_proxy(amqp_url, broker_proxy),
        graceful_timeout=30,
        log_level=10,
        logger=broker_logger(),
        reconnect_interval=0.5,
    )
    consumers: EventConsumers = EventConsumers(  # type: ignore[type-arg]
        broker, topology, "kit-test", lambda: UnitOfWork(db, "kit-test")
    )
    consumers.on(UserRegistered)(record)
    plain_queue = RabbitQueue(f"{topology.namespace}.plain", auto_delete=True)

    @broker.subscriber(plain_queue)
    async def crash(body: str) -> None:
        raise RuntimeError(f"plain handler failed: {body}")

    publisher = RabbitBroker(amqp_url, logger=broker_logger())  # not through the proxy

    async def publish(correlation_id: str) -> None:
        event = Envelope.wrap(
            UserRegistered(user_id=uuid.uuid4()), producer="test", correlation_id=correlation_id
        )
        await publisher.publish(
            event.model_dump_json().encode(),
            exchange=topology.events_exchange,
            routing_key=event.routing_key,
            persist=True,
        )

    await broker.connect()
    await publisher.connect()
    try:
        await topology.declare_common(broker)
        for queue in consumers.queues:
            await topology.declare_consumer_queue(broker, queue, consumers.channels[queue.name])
        await broker.start()
        await publish("before")
        await eventually(lambda: "before" in handled, "handled before the outage")

        await broker_proxy.cut()
        await asyncio.sleep(3)
        await publish("during")
        await broker_proxy.restore()
        await eventually(lambda: "during" in handled, "handled after the reconnect", 45)

        await publish("fails-once")
        await eventually(lambda: "fails-once" in handled, "handled on the second delivery")
        await publisher.publish("boom", queue=plain_queue)
        await eventually(lambda: "plain handler failed" in output.read(), "FastStream's error line")
    finally:
        await broker.stop()
        await publisher.stop()

    lines = output.lines()
    from_clients = [line for line in lines if line["logger"].startswith(("aiormq", "aio_pika"))]
    assert from_clients, "the outage left no line from aio-pika or aiormq"
    assert [line for line in from_clients if line["level"] != "warning"] == []

    errors = [line for line in lines if line["level"] in ("error", "critical")]
    assert [line["event"] for line in errors] == [
        "event.failed",
        "RuntimeError: plain handler failed: boom",
    ], errors
    assert errors[0]["correlation_id"] == "fails-once"
    assert errors[1]["logger"] == "faststream.broker"
    for line in errors:
        assert line["exception"].startswith("Traceback (most recent call last)")
        assert line["exception"].rstrip().endswith(("on the first delivery", "failed: boom"))
