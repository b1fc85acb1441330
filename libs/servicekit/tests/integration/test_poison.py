"""No message can stop a queue: bytes that are not JSON, an event that always fails, a
dependency that is away and a connection cut mid-handler, on every queue kind the kit
declares (quorum, classic priority, lane), against a real RabbitMQ and MariaDB."""

from __future__ import annotations

import asyncio
from collections import Counter

import aio_pika
import pymysql.err
import pytest
from faststream.rabbit import RabbitBroker

from contracts import Envelope, UserRegistered
from servicekit.db import Database
from servicekit.messaging import FAILURES_HEADER, EventConsumers, Topology
from servicekit.outbox import UnitOfWork, inbox_table

from .conftest import TcpProxy, effects, via_proxy
from .test_delivery import (
    _drain,
    _equals,
    count,
    envelope,
    eventually,
    publish_raw,
    record_effect,
    start_consumers,
)

pytestmark = pytest.mark.integration

NOT_JSON = b"\x00\xff not json"


async def _queue_length(amqp_url: str, name: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)


async def test_a_body_that_is_not_json_is_dead_lettered_on_every_queue_kind(
    amqp_url: str, db: Database, topology: Topology, cleanup_broker: list[str]
) -> None:
    handled: Counter[str] = Counter()

    def handler(kind: str):  # type: ignore[no-untyped-def]
        async def handle(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
            handled[kind] += 1

        handle.__name__ = kind
        return handle

    def register(consumers: EventConsumers) -> None:  # type: ignore[type-arg]
        consumers.on(UserRegistered, prefetch=1)(handler("quorum"))
        consumers.on(UserRegistered, priority=True, prefetch=1, lane="prio")(handler("priority"))
        consumers.on(UserRegistered, lane="lane", prefetch=1)(handler("lane"))

    broker, consumers = await start_consumers(amqp_url, topology, db, cleanup_broker, register)
    try:
        for _ in range(2):  # two of them: prefetch 1 would stall on the first if unacked
            await broker.publish(
                NOT_JSON,
                exchange=topology.events_exchange,
                routing_key=UserRegistered.routing_key(),
                content_type="application/json",
                persist=True,
            )
        good = envelope()
        await publish_raw(broker, topology, good.model_dump_json().encode(), good.routing_key)
        await eventually(lambda: _equals(count(db, inbox_table), 3))
        assert handled == {"quorum": 1, "priority": 1, "lane": 1}
        for queue in consumers.queues:
            dead = await _drain(amqp_url, topology.dead_letter_queue(queue).name, expected=2)
            assert [m.body for m in dead] == [NOT_JSON, NOT_JSON]
            assert await _queue_length(amqp_url, queue.name) == 0
    finally:
        await broker.stop()


async def test_a_poison_event_is_dead_lettered_after_the_limit_and_blocks_nothing(
    amqp_url: str, db: Database, topology: Topology, cleanup_broker: list[str]
) -> None:
    """A classic priority queue counts no deliveries itself: the kit's own count bounds it."""
    poison = envelope()
    calls: Counter[str] = Counter()

    async def handle(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        calls[str(event.event_id)] += 1
        if event.event_id == poison.event_id:
            raise RuntimeError("this event breaks the handler every time")
        await record_effect(event, uow)

    broker, consumers = await start_consumers(
        amqp_url,
        topology,
        db,
        cleanup_broker,
        lambda c: c.on(UserRegistered, priority=True, prefetch=1)(handle),
    )
    try:
        await publish_raw(broker, topology, poison.model_dump_json().encode(), poison.routing_key)
        later = [envelope() for _ in range(3)]
        for event in later:
            await publish_raw(broker, topology, event.model_dump_json().encode(), event.routing_key)
        # The others are handled while the poison waits out its back-off.
        await eventually(lambda: _equals(count(db, effects), 3), timeout=5)
        [queue] = consumers.queues
        [dead] = await _drain(amqp_url, topology.dead_letter_queue(queue).name, expected=1)
        assert str(poison.event_id).encode() in dead.body
        assert dead.headers[FAILURES_HEADER] == topology.delivery_limit - 1
        assert dead.priority == 0 or dead.priority is None
        assert calls[str(poison.event_id)] == topology.delivery_limit
        await asyncio.sleep(1.5)  # nothing comes back after the dead-lettering
        assert calls[str(poison.event_id)] == topology.delivery_limit
        assert await count(db, inbox_table) == 3
    finally:
        await broker.stop()


async def test_a_dependency_that_is_away_costs_no_delivery(
    amqp_url: str, db: Database, topology: Topology, cleanup_broker: list[str]
) -> None:
    """Failing more often than the limit, but because the database is unreachable: the
    event waits and is handled once it is back, never dead-lettered."""
    outages = topology.delivery_limit + 1
    calls: list[int] = []

    async def handle(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        calls.append(1)
        if len(calls) <= outages:
            raise pymysql.err.OperationalError(2003, "Can't connect to MySQL server")
        await record_effect(event, uow)

    broker, consumers = await start_consumers(
        amqp_url, topology, db, cleanup_broker, lambda c: c.on(UserRegistered)(handle)
    )
    try:
        event = envelope()
        await publish_raw(broker, topology, event.model_dump_json().encode(), event.routing_key)
        await eventually(lambda: _equals(count(db, effects), 1), timeout=30)
        assert len(calls) == outages + 1
        [queue] = consumers.queues
        assert await _queue_length(amqp_url, topology.dead_letter_queue(queue).name) == 0
    finally:
        await broker.stop()


async def test_a_connection_cut_mid_handler_is_no_failure_and_no_double_effect(
    amqp_url: str,
    db: Database,
    topology: Topology,
    cleanup_broker: list[str],
    broker_proxy: TcpProxy,
) -> None:
    started = asyncio.Event()
    seen_headers: list[dict[str, object]] = []

    async def slow(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        started.set()
        await asyncio.sleep(2.0)
        await record_effect(event, uow)

    def register(consumers: EventConsumers) -> None:  # type: ignore[type-arg]
        consumers.on(UserRegistered, priority=True, prefetch=1)(slow)

    broker, consumers = await start_consumers(
        via_proxy(amqp_url, broker_proxy), topology, db, cleanup_broker, register
    )
    original = consumers.deliver

    async def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen_headers.append(dict(args[2].headers or {}))
        await original(*args, **kwargs)

    consumers.deliver = spy  # type: ignore[method-assign]
    publisher = RabbitBroker(amqp_url, log_level=10)
    await publisher.connect()
    try:
        event = envelope()
        await publish_raw(publisher, topology, event.model_dump_json().encode(), event.routing_key)
        await asyncio.wait_for(started.wait(), 10)
        for _ in range(2):  # two blips while the handler works
            await broker_proxy.cut()
            await asyncio.sleep(1.0)
            await broker_proxy.restore()
            await asyncio.sleep(0.5)
        await eventually(lambda: _equals(count(db, effects), 1), timeout=40)
        await asyncio.sleep(1.0)
        assert await count(db, effects) == 1
        assert all(FAILURES_HEADER not in headers for headers in seen_headers)
    finally:
        await publisher.stop()
        await broker.stop()
