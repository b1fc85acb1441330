"""Inbox, outbox and dead-lettering against a real MariaDB and RabbitMQ."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage
from faststream.rabbit import RabbitBroker
from sqlalchemy import func, insert, select

from contracts import Envelope, UserDeleted, UserRegistered
from servicekit.db import Database
from servicekit.errors import PermanentFailure
from servicekit.messaging import FAILURES_HEADER, EventConsumers, Topology, make_publisher
from servicekit.outbox import OutboxRelay, UnitOfWork, inbox_table, outbox_table

from .conftest import TcpProxy, effects, via_proxy

pytestmark = pytest.mark.integration


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def count(db: Database, table: object, *where: object) -> int:
    async with db.sessions() as session:
        query = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
        return int((await session.execute(query)).scalar_one())


async def start_consumers(
    amqp_url: str,
    topology: Topology,
    db: Database,
    cleanup: list[str],
    register: Callable[[EventConsumers], object],  # type: ignore[type-arg]
) -> tuple[RabbitBroker, EventConsumers]:  # type: ignore[type-arg]
    """A broker consuming with the handlers ``register`` adds, started as a service would."""
    broker = RabbitBroker(amqp_url, log_level=10)
    consumers: EventConsumers = EventConsumers(  # type: ignore[type-arg]
        broker, topology, "kit-test", lambda: UnitOfWork(db, "kit-test")
    )
    register(consumers)
    await broker.connect()
    await topology.declare_common(broker)
    for queue in consumers.queues:
        await topology.declare_consumer_queue(broker, queue, consumers.channels[queue.name])
        cleanup += [queue.name, topology.dead_letter_queue(queue).name]
    await broker.start()
    return broker, consumers


async def start_consumer(
    amqp_url: str,
    topology: Topology,
    db: Database,
    cleanup: list[str],
    handler: Callable[[Envelope[UserRegistered], UnitOfWork], Awaitable[None]],
) -> RabbitBroker:
    broker, _ = await start_consumers(
        amqp_url, topology, db, cleanup, lambda c: c.on(UserRegistered)(handler)
    )
    return broker


def envelope() -> Envelope[UserRegistered]:
    return Envelope.wrap(UserRegistered(user_id=uuid.uuid4()), producer="test", correlation_id="c1")


async def publish_raw(
    broker: RabbitBroker, topology: Topology, body: bytes, routing_key: str
) -> None:
    await broker.publish(
        body, exchange=topology.events_exchange, routing_key=routing_key, persist=True
    )


async def record_effect(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
    await uow.session.execute(insert(effects).values(label=str(event.event_id)))


async def test_an_event_delivered_twice_has_one_effect(
    amqp_url: str, db: Database, topology: Topology, cleanup_broker: list[str]
) -> None:
    broker = await start_consumer(amqp_url, topology, db, cleanup_broker, record_effect)
    try:
        event = envelope()
        body = event.model_dump_json().encode()
        await asyncio.gather(
            *(publish_raw(broker, topology, body, event.routing_key) for _ in range(3))
        )
        other = envelope()
        await publish_raw(broker, topology, other.model_dump_json().encode(), other.routing_key)
        await eventually(lambda: _equals(count(db, inbox_table), 2))
        await asyncio.sleep(0.5)  # let any stray redelivery land before counting effects
        assert await count(db, effects, effects.c.label == str(event.event_id)) == 1
        assert await count(db, effects) == 2
    finally:
        await broker.stop()


async def test_state_and_event_commit_together_or_not_at_all(db: Database) -> None:
    async with UnitOfWork(db, "kit-test") as uow:
        await uow.session.execute(insert(effects).values(label="rolled back"))
        uow.emit(UserDeleted(user_id=uuid.uuid4()), correlation_id="c")
        # leaving without commit: a crash or an error before the commit
    assert await count(db, effects) == 0
    assert await count(db, outbox_table) == 0

    with pytest.raises(RuntimeError):
        async with UnitOfWork(db, "kit-test") as uow:
            await uow.session.execute(insert(effects).values(label="failed"))
            uow.emit(UserDeleted(user_id=uuid.uuid4()), correlation_id="c")
            raise RuntimeError("the handler failed before committing")
    assert await count(db, effects) == 0
    assert await count(db, outbox_table) == 0

    async with UnitOfWork(db, "kit-test") as uow:
        await uow.session.execute(insert(effects).values(label="kept"))
        emitted = uow.emit(UserDeleted(user_id=uuid.uuid4()), correlation_id="c")
        await uow.commit()
    assert await count(db, effects) == 1
    assert await count(db, outbox_table, outbox_table.c.event_id == str(emitted.event_id)) == 1


async def test_an_event_committed_while_the_broker_is_down_goes_out_when_it_is_back(
    amqp_url: str,
    db: Database,
    topology: Topology,
    cleanup_broker: list[str],
    broker_proxy: TcpProxy,
) -> None:
    received: list[str] = []

    async def remember(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        received.append(str(event.event_id))

    consumer = await start_consumer(amqp_url, topology, db, cleanup_broker, remember)
    producer = RabbitBroker(via_proxy(amqp_url, broker_proxy), reconnect_interval=0.5, log_level=10)
    await producer.connect()
    relay = OutboxRelay(db, make_publisher(producer, topology), poll_seconds=0.1)
    relay_task = asyncio.create_task(relay.run())
    try:
        await broker_proxy.cut()  # the broker goes away just before the commit
        async with UnitOfWork(db, "kit-test", on_commit=relay.kick) as uow:
            await uow.session.execute(insert(effects).values(label="state"))
            emitted = uow.emit(UserRegistered(user_id=uuid.uuid4()), correlation_id="c")
            await uow.commit()
        await asyncio.sleep(2.0)
        assert received == []
        assert await count(db, effects) == 1  # the state change did not wait for the broker
        assert await count(db, outbox_table, outbox_table.c.published_at.is_(None)) == 1

        await broker_proxy.restore()
        await eventually(lambda: _equals(_length(received), 1), timeout=45)
        assert received == [str(emitted.event_id)]
        assert await count(db, outbox_table, outbox_table.c.published_at.is_(None)) == 0
    finally:
        relay.stop()
        await relay_task
        await producer.stop()
        await consumer.stop()


async def test_messages_that_fail_for_good_end_in_the_dead_letter_queue(
    amqp_url: str, db: Database, topology: Topology, cleanup_broker: list[str]
) -> None:
    permanent, flaky = envelope(), envelope()

    async def refuse(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        if event.event_id == permanent.event_id:
            raise PermanentFailure("this event can never be handled")
        raise RuntimeError("fails on every delivery")

    broker = await start_consumer(amqp_url, topology, db, cleanup_broker, refuse)
    try:
        malformed = b'{"event_type": "user.registered", "payload": "not an object"}'
        for body in (
            malformed,
            permanent.model_dump_json().encode(),
            flaky.model_dump_json().encode(),
        ):
            await publish_raw(broker, topology, body, UserRegistered.routing_key())
        dead_queue = topology.dead_letter_queue(
            topology.event_queue("kit-test", UserRegistered)
        ).name
        dead = await _drain(amqp_url, dead_queue, expected=3)
        bodies = [m.body for m in dead]
        assert malformed in bodies
        assert any(str(permanent.event_id).encode() in b for b in bodies)
        flaky_copy = next(m for m in dead if str(flaky.event_id).encode() in m.body)
        # retried up to the delivery limit before it was dead-lettered
        assert flaky_copy.headers[FAILURES_HEADER] == topology.delivery_limit - 1
        deaths: Any = flaky_copy.headers["x-death"]
        assert deaths[0]["reason"] == "rejected"
        assert await count(db, inbox_table) == 0  # nothing was recorded as handled
    finally:
        await broker.stop()


async def _drain(amqp_url: str, queue_name: str, expected: int) -> list[AbstractIncomingMessage]:
    messages: list[AbstractIncomingMessage] = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name)
        deadline = asyncio.get_running_loop().time() + 30
        while len(messages) < expected and asyncio.get_running_loop().time() < deadline:
            message = await queue.get(fail=False)
            if message is None:
                await asyncio.sleep(0.2)
                continue
            await message.ack()
            messages.append(message)
    assert len(messages) == expected, f"{len(messages)} of {expected} dead letters arrived"
    return messages


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _length(items: list[str]) -> int:
    return len(items)


async def test_a_delayed_lane_gets_its_own_copy_once_it_is_old_enough(
    amqp_url: str, db: Database, topology: Topology, cleanup_broker: list[str]
) -> None:
    """Two handlers of one event in one service: each once (their inbox entries are apart),
    the lane's not before the event is ``delay`` old; on stop, a held event goes back."""
    handled: dict[str, float] = {}

    async def main(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        handled[f"main {event.event_id}"] = asyncio.get_running_loop().time()

    async def late(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        handled[f"late {event.event_id}"] = asyncio.get_running_loop().time()

    def register(consumers: EventConsumers) -> None:  # type: ignore[type-arg]
        consumers.on(UserRegistered)(main)
        consumers.on(UserRegistered, lane="late", delay=timedelta(seconds=2))(late)

    broker, consumers = await start_consumers(amqp_url, topology, db, cleanup_broker, register)
    try:
        event = envelope()
        published = asyncio.get_running_loop().time()
        await publish_raw(broker, topology, event.model_dump_json().encode(), event.routing_key)
        await eventually(lambda: _equals(_length(list(handled)), 2))
        assert handled[f"main {event.event_id}"] - published < 1.5
        assert handled[f"late {event.event_id}"] - published >= 1.9
        assert await count(db, inbox_table) == 2

        held = envelope()  # due in 2 s, but the service stops first
        await publish_raw(broker, topology, held.model_dump_json().encode(), held.routing_key)
        await eventually(lambda: _equals(_length(list(handled)), 3))
        consumers.stopping.set()
        started = asyncio.get_running_loop().time()
        await broker.stop()
        assert asyncio.get_running_loop().time() - started < 1.5  # not held until due
    finally:
        await broker.stop()
    assert f"late {held.event_id}" not in handled
    late_queue = topology.event_queue("kit-test", UserRegistered, lane="late").name
    assert len(await _drain(amqp_url, late_queue, 1)) == 1  # back in its queue, not lost


async def test_a_handler_with_prefetch_one_holds_one_event_at_a_time(
    amqp_url: str, db: Database, topology: Topology, cleanup_broker: list[str]
) -> None:
    """The queue is declared before consumers start; the consumer must still get its own
    channel and prefetch (FastStream reuses the first declaration's channel)."""
    running: list[int] = [0]
    peak: list[int] = [0]

    async def slow(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        await asyncio.sleep(0.2)
        running[0] -= 1
        await record_effect(event, uow)

    broker, _ = await start_consumers(
        amqp_url, topology, db, cleanup_broker, lambda c: c.on(UserRegistered, prefetch=1)(slow)
    )
    try:
        for _ in range(4):
            event = envelope()
            await publish_raw(broker, topology, event.model_dump_json().encode(), event.routing_key)
        await eventually(lambda: _equals(count(db, effects), 4))
    finally:
        await broker.stop()
    assert peak[0] == 1
