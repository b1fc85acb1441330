"""The kit's common topology against a real RabbitMQ."""

from __future__ import annotations

import aio_pika
import aiormq.exceptions
import pytest
from faststream.rabbit import RabbitBroker

from servicekit.messaging import UNROUTED_MAX_MESSAGES, UNROUTED_TTL_MS, Topology
from servicekit.metrics import UNROUTED_MESSAGES

pytestmark = pytest.mark.integration


async def test_unrouted_events_are_bounded_and_counted(
    amqp_url: str, topology: Topology, cleanup_broker: list[str]
) -> None:
    broker = RabbitBroker(amqp_url, log_level=10)
    await broker.connect()
    try:
        await topology.declare_common(broker)
        for _ in range(3):  # a routing key no queue is bound to
            await broker.publish(
                b"{}", exchange=topology.events_exchange, routing_key="nobody.listens.v1"
            )
        assert await topology.count_unrouted(broker) == 3
        assert UNROUTED_MESSAGES._value.get() == 3  # the gauge /metrics shows
        # The bounds, as the broker holds them: redeclaring without them is refused.
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed, match="max-length"):
                await channel.declare_queue(
                    topology.unrouted_queue.name,
                    durable=True,
                    arguments={
                        "x-message-ttl": UNROUTED_TTL_MS,
                        "x-max-length": UNROUTED_MAX_MESSAGES + 1,
                        "x-overflow": "drop-head",
                    },
                )
    finally:
        await broker.stop()


async def test_an_unbounded_unrouted_queue_from_before_is_named_not_crashed_on(
    amqp_url: str, topology: Topology, cleanup_broker: list[str]
) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(topology.unrouted_queue.name, durable=True)
    broker = RabbitBroker(amqp_url, log_level=10)
    await broker.connect()
    try:
        with pytest.raises(RuntimeError, match="delete_queue"):
            await topology.declare_common(broker)
    finally:
        await broker.stop()
