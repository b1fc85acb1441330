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
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from faststream import AckPolicy
from faststream.rabbit import Channel, ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.helpers.declarer import RabbitDeclarer
from faststream.rabbit.schemas.queue import QueueType
from pydantic import ValidationError

from contracts import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, Envelope, Event
from contracts.envelope import utc_now
from contracts.rpc import RpcRequest
from servicekit.errors import PermanentFailure, validation_errors
from servicekit.logs import bind_context, get_logger
from servicekit.metrics import EVENTS_CONSUMED
from servicekit.outbox import OutboxMessage, UnitOfWork

__all__ = [
    "EventConsumers",
    "EventHandler",
    "Topology",
    "make_publisher",
    "make_queue_publisher",
]

log = get_logger(__name__)

E = TypeVar("E", bound=Event)
EventHandler = Callable[[Envelope[E], UnitOfWork], Awaitable[None]]

# After this many failed deliveries a message is dead-lettered rather than retried again.
DELIVERY_LIMIT = 8
RPC_MESSAGE_TTL_MS = 5_000
MAX_DELAY = timedelta(minutes=25)


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
        self,
        service: str,
        event_cls: type[Event],
        *,
        priority: bool = False,
        lane: str | None = None,
    ) -> RabbitQueue:
        """``lane`` names a second queue of the same service for the same event type."""
        name = self.name(f"{service}.{event_cls.routing_key()}" + (f".{lane}" if lane else ""))
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

    async def declare_consumer_queue(
        self, broker: RabbitBroker, queue: RabbitQueue, channel: Channel | None = None
    ) -> None:
        """Declare a queue, its binding and its dead-letter queue (before consumers start,
        so that nothing published meanwhile is lost). On the consumer's ``channel``:
        FastStream reuses the queue object declared first, channel and prefetch included."""
        declarer: RabbitDeclarer = broker.config.declarer
        declared = await declarer.declare_queue(queue, channel=channel)
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


def make_queue_publisher(
    broker: RabbitBroker,
) -> Callable[[RabbitQueue, Envelope[Any], int | None], Awaitable[None]]:
    """A confirmed publish straight into one queue (the default exchange), for a service
    that hands an event back to one of its own queues rather than to every subscriber."""

    async def publish(queue: RabbitQueue, envelope: Envelope[Any], priority: int | None) -> None:
        await broker.publish(
            envelope.model_dump_json().encode(),
            queue=queue.name,
            persist=True,
            message_id=str(envelope.event_id),
            correlation_id=envelope.correlation_id,
            content_type="application/json",
            priority=priority,
            timeout=10,
        )

    return publish


def seconds_until(moment: datetime) -> float:
    return max(0.0, (moment - utc_now()).total_seconds())


@dataclass
class EventConsumers(Generic[E]):
    """Registers a service's event handlers with the kit's delivery rules."""

    broker: RabbitBroker
    topology: Topology
    service: str
    unit_of_work: Callable[[], UnitOfWork]
    retry_backoff_seconds: float = 0.2
    queues: list[RabbitQueue] = field(default_factory=list)
    channels: dict[str, Channel | None] = field(default_factory=dict)  # by queue name
    # Set on shutdown: events held for a delay go back to their queue at once.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def on(
        self,
        event_cls: type[E],
        *,
        priority: bool = False,
        prefetch: int | None = None,
        lane: str | None = None,
        delay: timedelta | None = None,
    ) -> Callable[[EventHandler[E]], EventHandler[E]]:
        """Register ``handler`` for ``event_cls``. ``prefetch=1`` for slow work, so that
        other replicas take the next message; ``priority`` honours message priorities.
        ``lane`` gives a second handler of the same event its own queue and its own inbox
        entries; ``delay`` holds each event until it is that old (at most
        ``MAX_DELAY``: the broker takes back deliveries left unacknowledged for 30 min)."""
        if delay is not None and not timedelta(0) <= delay <= MAX_DELAY:
            raise ValueError(f"delay must be between 0 and {MAX_DELAY}")

        def register(handler: EventHandler[E]) -> EventHandler[E]:
            queue = self.topology.event_queue(self.service, event_cls, priority=priority, lane=lane)
            self.queues.append(queue)
            channel = self.channels[queue.name] = (
                Channel(prefetch_count=prefetch) if prefetch else None
            )

            async def consume(message: RabbitMessage) -> None:
                await self.deliver(event_cls, handler, message, lane=lane, delay=delay)

            consume.__name__ = handler.__name__
            self.broker.subscriber(
                queue,
                self.topology.events_exchange,
                channel=channel,
                ack_policy=AckPolicy.MANUAL,
                title=f"{self.service}: {event_cls.routing_key()}",
                description=handler.__doc__,
            )(consume)
            return handler

        return register

    async def deliver(
        self,
        event_cls: type[E],
        handler: EventHandler[E],
        message: Any,
        *,
        lane: str | None = None,
        delay: timedelta | None = None,
    ) -> None:
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
            # Held before the unit of work opens, so that no transaction idles meanwhile.
            if delay is not None and not await self._held(envelope.occurred_at + delay):
                await message.nack(requeue=True)
                return
            outcome = await self._handle(envelope, handler, message, lane)
            EVENTS_CONSUMED.labels(event_type=envelope.routing_key, outcome=outcome).inc()

    async def _held(self, until: datetime) -> bool:
        """Wait until ``until``; False when the service stops first."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds_until(until))
        except TimeoutError:
            return True
        return False

    async def _handle(
        self, envelope: Envelope[E], handler: EventHandler[E], message: Any, lane: str | None
    ) -> str:
        try:
            async with self.unit_of_work() as uow:
                if not await uow.claim(envelope, scope=lane):  # type: ignore[arg-type]
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
