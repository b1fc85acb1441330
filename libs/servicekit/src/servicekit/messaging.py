"""RabbitMQ topology and delivery rules shared by every service.

- one durable topic exchange for all events; what no queue takes goes to an alternate
  exchange and waits in ``<ns>alignment.unrouted`` instead of vanishing;
- one queue per (consumer service, event type), quorum by default, dead-lettering to
  ``<queue>.dead`` after repeated failures or at once for malformed messages;
- handlers run inside a :class:`UnitOfWork` that first claims the event in the inbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from faststream import AckPolicy
from faststream.rabbit import Channel, ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.schemas.queue import QueueType
from pydantic import ValidationError

from contracts import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, Envelope, Event
from contracts.rpc import RpcRequest
from servicekit.errors import PermanentFailure, validation_errors
from servicekit.logs import bind_context, get_logger
from servicekit.metrics import EVENTS_CONSUMED
from servicekit.outbox import OutboxMessage, UnitOfWork

__all__ = ["EventConsumers", "EventHandler", "Topology", "make_publisher"]

log = get_logger(__name__)

E = TypeVar("E", bound=Event)
EventHandler = Callable[[Envelope[E], UnitOfWork], Awaitable[None]]

# After this many failed deliveries a message is dead-lettered rather than retried again.
DELIVERY_LIMIT = 8
RPC_MESSAGE_TTL_MS = 5_000


@dataclass(frozen=True)
class Topology:
    namespace: str = ""
    delivery_limit: int = DELIVERY_LIMIT

    def name(self, base: str) -> str:
        return f"{self.namespace}.{base}" if self.namespace else base

    @property
    def events_exchange(self) -> RabbitExchange:
        return RabbitExchange(
            self.name(EVENTS_EXCHANGE),
            type=ExchangeType.TOPIC,
            durable=True,
            arguments={"alternate-exchange": self.unrouted_exchange.name},
        )

    @property
    def unrouted_exchange(self) -> RabbitExchange:
        return RabbitExchange(
            self.name("alignment.unrouted"), type=ExchangeType.FANOUT, durable=True
        )

    @property
    def unrouted_queue(self) -> RabbitQueue:
        return RabbitQueue(self.name("alignment.unrouted"), durable=True)

    @property
    def dead_letter_exchange(self) -> RabbitExchange:
        return RabbitExchange(
            self.name(DEAD_LETTER_EXCHANGE), type=ExchangeType.DIRECT, durable=True
        )

    def event_queue(
        self, service: str, event_cls: type[Event], *, priority: bool = False
    ) -> RabbitQueue:
        name = self.name(f"{service}.{event_cls.routing_key()}")
        arguments: dict[str, Any] = {
            "x-dead-letter-exchange": self.dead_letter_exchange.name,
            "x-dead-letter-routing-key": name,
        }
        if priority:  # quorum queues (before RabbitMQ 4) have no priorities
            arguments["x-max-priority"] = 9
            return RabbitQueue(
                name,
                durable=True,
                routing_key=event_cls.routing_key(),
                arguments=cast(Any, arguments),
            )
        arguments["x-delivery-limit"] = self.delivery_limit
        return RabbitQueue(
            name,
            queue_type=QueueType.QUORUM,
            durable=True,
            routing_key=event_cls.routing_key(),
            arguments=cast(Any, arguments),
        )

    def dead_letter_queue(self, queue: RabbitQueue) -> RabbitQueue:
        return RabbitQueue(f"{queue.name}.dead", durable=True, routing_key=queue.name)

    def rpc_queue(self, request_cls: type[RpcRequest]) -> RabbitQueue:
        # Requests nobody answered in time are worthless: let them expire.
        return RabbitQueue(
            self.name(request_cls.QUEUE),
            durable=True,
            arguments={"x-message-ttl": RPC_MESSAGE_TTL_MS},  # type: ignore[arg-type]
        )

    async def declare_common(self, broker: RabbitBroker) -> None:
        await broker.declare_exchange(self.unrouted_exchange)
        unrouted = await broker.declare_queue(self.unrouted_queue)
        await unrouted.bind(self.unrouted_exchange.name)
        await broker.declare_exchange(self.events_exchange)
        await broker.declare_exchange(self.dead_letter_exchange)

    async def declare_consumer_queue(self, broker: RabbitBroker, queue: RabbitQueue) -> None:
        """Declare a queue, its binding and its dead-letter queue (before consumers start,
        so that nothing published meanwhile is lost)."""
        declared = await broker.declare_queue(queue)
        await declared.bind(self.events_exchange.name, routing_key=queue.routing())
        dead = await broker.declare_queue(self.dead_letter_queue(queue))
        await dead.bind(self.dead_letter_exchange.name, routing_key=queue.name)


def make_publisher(
    broker: RabbitBroker, topology: Topology
) -> Callable[[OutboxMessage], Awaitable[None]]:
    """The outbox relay's way out: persistent, confirmed publishes on the events exchange."""

    async def publish(message: OutboxMessage) -> None:
        await broker.publish(
            message.body.encode(),
            exchange=topology.events_exchange,
            routing_key=message.routing_key,
            persist=True,
            message_id=message.event_id,
            correlation_id=message.correlation_id,
            content_type="application/json",
            priority=message.priority,
            timeout=10,
        )

    return publish


@dataclass
class EventConsumers(Generic[E]):
    """Registers a service's event handlers with the kit's delivery rules."""

    broker: RabbitBroker
    topology: Topology
    service: str
    unit_of_work: Callable[[], UnitOfWork]
    retry_backoff_seconds: float = 0.2
    queues: list[RabbitQueue] = field(default_factory=list)

    def on(
        self, event_cls: type[E], *, priority: bool = False, prefetch: int | None = None
    ) -> Callable[[EventHandler[E]], EventHandler[E]]:
        """Register ``handler`` for ``event_cls``. ``prefetch=1`` for slow work, so that
        other replicas take the next message; ``priority`` honours message priorities."""

        def register(handler: EventHandler[E]) -> EventHandler[E]:
            queue = self.topology.event_queue(self.service, event_cls, priority=priority)
            self.queues.append(queue)

            async def consume(message: RabbitMessage) -> None:
                await self.deliver(event_cls, handler, message)

            consume.__name__ = handler.__name__
            self.broker.subscriber(
                queue,
                self.topology.events_exchange,
                channel=Channel(prefetch_count=prefetch) if prefetch else None,
                ack_policy=AckPolicy.MANUAL,
                title=f"{self.service}: {event_cls.routing_key()}",
                description=handler.__doc__,
            )(consume)
            return handler

        return register

    async def deliver(self, event_cls: type[E], handler: EventHandler[E], message: Any) -> None:
        try:
            envelope = Envelope[event_cls].model_validate_json(message.body)  # type: ignore[valid-type]
        except ValidationError as exc:
            EVENTS_CONSUMED.labels(event_type=event_cls.routing_key(), outcome="malformed").inc()
            log.error(
                "event.malformed", expected=event_cls.routing_key(), errors=validation_errors(exc)
            )
            await message.reject(requeue=False)
            return
        with bind_context(**envelope.log_context()):
            outcome = await self._handle(envelope, handler, message)
            EVENTS_CONSUMED.labels(event_type=envelope.routing_key, outcome=outcome).inc()

    async def _handle(self, envelope: Envelope[E], handler: EventHandler[E], message: Any) -> str:
        try:
            async with self.unit_of_work() as uow:
                if not await uow.claim(envelope):  # type: ignore[arg-type]
                    log.info("event.duplicate_ignored")
                    await message.ack()
                    return "duplicate"
                await handler(envelope, uow)
                await uow.commit()
        except PermanentFailure as exc:
            log.error("event.failed_permanently", error=str(exc))
            await message.reject(requeue=False)
            return "dead-lettered"
        except Exception:
            deliveries = int((message.headers or {}).get("x-delivery-count", 0)) + 1
            log.exception(
                "event.failed", delivery=deliveries, delivery_limit=self.topology.delivery_limit
            )
            # Back off before the retry; past the limit the broker dead-letters the message.
            await asyncio.sleep(min(self.retry_backoff_seconds * 2**deliveries, 10.0))
            await message.nack(requeue=True)
            return "retried"
        await message.ack()
        log.info("event.handled")
        return "handled"
