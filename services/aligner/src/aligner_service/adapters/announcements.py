"""How an announcement leaves: straight onto the events exchange (not through the outbox:
it changes no state), confirmed, and expiring after a few periods, so that announcements
nobody has taken yet (the gateway is down, or its queue not declared on a first start) do
not pile up anywhere: a newer one is on its way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from faststream.rabbit import RabbitBroker

from contracts import EnginesAnnounced, Envelope
from servicekit.messaging import Topology

__all__ = ["announcement_publisher"]

LIFETIME_PERIODS = 3


def announcement_publisher(
    broker: RabbitBroker, topology: Topology, every_seconds: int
) -> Callable[[Envelope[EnginesAnnounced]], Awaitable[None]]:
    lifetime = timedelta(seconds=LIFETIME_PERIODS * every_seconds)

    async def publish(envelope: Envelope[EnginesAnnounced]) -> None:
        await broker.publish(
            envelope.model_dump_json().encode(),
            exchange=topology.events_exchange,
            routing_key=envelope.routing_key,
            message_id=str(envelope.event_id),
            correlation_id=envelope.correlation_id,
            content_type="application/json",
            expiration=lifetime,
            timeout=10,
        )

    return publish
