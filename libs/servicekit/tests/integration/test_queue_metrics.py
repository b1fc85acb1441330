"""The sampled gauges against a real MariaDB and RabbitMQ: queue depth, consumers, the
oldest message, dead letters; outbox pending, oldest and publish lag; the wait of a
delivered event, measured from the AMQP timestamp the outbox relay sets."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update

from contracts import Envelope, UserRegistered
from servicekit.db import Database, utc_naive_now
from servicekit.errors import PermanentFailure
from servicekit.messaging import Topology, make_publisher
from servicekit.outbox import OutboxRelay, UnitOfWork, outbox_table
from servicekit.queue_metrics import QueueSampler

from .test_delivery import eventually, start_consumers

pytestmark = pytest.mark.integration


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_depth_age_dead_letters_and_outbox_lag(
    amqp_url: str, db: Database, topology: Topology, cleanup_broker: list[str]
) -> None:
    refused = uuid.uuid4()  # the user of the event that is refused for good
    handled: list[Envelope[UserRegistered]] = []
    release = asyncio.Event()

    async def handle(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        if event.payload.user_id == refused:
            raise PermanentFailure("never")
        await release.wait()  # holds the one consumer (prefetch 1): the rest wait
        handled.append(event)

    broker, consumers = await start_consumers(
        amqp_url,
        topology,
        db,
        cleanup_broker,
        lambda c: c.on(UserRegistered, prefetch=1)(handle),
    )
    queue = consumers.queues[0]
    sampler = QueueSampler(broker, [queue], [topology.dead_letter_queue(queue)])
    relay = OutboxRelay(db, make_publisher(broker, topology), poll_seconds=0.1)
    try:
        # Three events committed "90 s ago" and one that will be refused, all waiting.
        async with UnitOfWork(db, "kit-test") as uow:
            uow.emit(UserRegistered(user_id=refused), correlation_id="c")
            for _ in range(3):
                uow.emit(UserRegistered(user_id=uuid.uuid4()), correlation_id="c")
            await uow.commit()
        async with db.sessions() as session, session.begin():
            old = utc_naive_now() - timedelta(seconds=90)
            await session.execute(update(outbox_table).values(created_at=old))
        await relay.sample()
        assert value("outbox_pending") == 4
        assert 89 < value("outbox_oldest_pending_seconds") < 120
        lag_before = value("outbox_publish_lag_seconds_sum")
        while await relay.publish_pending():
            pass
        assert value("outbox_publish_lag_seconds_sum") - lag_before >= 4 * 89
        await relay.sample()
        assert value("outbox_pending") == 0 == value("outbox_oldest_pending_seconds")

        # The refused one is dead-lettered; one is held by the consumer; two wait, and
        # the head's age is bounded by the publish time of the last one delivered (90 s).
        async def settled() -> bool:
            await sampler.sample()
            return value("dead_letter_messages", queue=queue.name) == 1 and (
                value("queue_messages", queue=queue.name) == 2
            )

        await eventually(settled)
        assert value("queue_consumers", queue=queue.name) == 1
        assert 89 < value("queue_oldest_message_seconds", queue=queue.name) < 150
        assert value("queue_wait_seconds_count", queue=queue.name) >= 2
        assert value("queue_wait_seconds_sum", queue=queue.name) >= 2 * 89

        release.set()
        await eventually(lambda: _handled(handled, 3))

        async def emptied() -> bool:
            await sampler.sample()
            return value("queue_messages", queue=queue.name) == 0

        await eventually(emptied)
        assert value("queue_oldest_message_seconds", queue=queue.name) == 0
    finally:
        release.set()
        await broker.stop()


async def _handled(handled: list[Envelope[UserRegistered]], expected: int) -> bool:
    return len(handled) == expected
