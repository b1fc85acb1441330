"""RabbitMQ topology and delivery rules shared by every service.

- one durable topic exchange for all events; what no queue takes goes to an alternate
  exchange and waits in ``<ns>alignment.unrouted`` (bounded: a day, 10,000 messages)
  instead of vanishing at once;
- one queue per (consumer service, event type), quorum by default, dead-lettering to
  ``<queue>.dead`` after ``delivery_limit`` failed deliveries or at once for a malformed
  message (whatever its bytes: the body is never decoded before the kit sees it);
- a failed delivery is acknowledged and a copy goes back to its queue through a retry
  queue whose TTL is the back-off (1 s, 4 s, 15 s, then 60 s), carrying its failure count
  in ``x-failed-deliveries``: the same limit holds on every queue kind (a classic priority
  queue counts nothing itself) and the consumer is free meanwhile. A delivery cut short by
  a lost connection, or failing because the database or S3 is unreachable, counts as no
  failure: it comes back after a pause;
- handlers run inside a :class:`UnitOfWork` that first claims the event in the inbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar, cast

import aiormq.exceptions
from faststream import AckPolicy
from faststream.rabbit import Channel, ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage
from faststream.rabbit.helpers.declarer import RabbitDeclarer
from faststream.rabbit.schemas.queue import QueueType
from pydantic import ValidationError

from contracts import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, Envelope, Event
from contracts.envelope import utc_now
from contracts.rpc import RpcRequest
from servicekit.errors import PermanentFailure, is_unavailable, validation_errors
from servicekit.logs import bind_context, get_logger
from servicekit.metrics import EVENTS_CONSUMED, UNROUTED_MESSAGES
from servicekit.outbox import OutboxMessage, UnitOfWork
from servicekit.queue_metrics import note_delivery
from servicekit.tracing import tag_span

__all__ = [
    "FAILURES_HEADER",
    "Delivery",
    "EventConsumers",
    "EventHandler",
    "Topology",
    "WorkHandler",
    "make_publisher",
    "make_queue_publisher",
]

log = get_logger(__name__)

E = TypeVar("E", bound=Event)
EventHandler = Callable[[Envelope[E], UnitOfWork], Awaitable[None]]


@dataclass(frozen=True)
class Delivery:
    """What a long-work handler knows of the delivery besides its event.

    ``resumed``: the broker delivers it again after a consumer went away without an answer
    (crashed, or lost its connection), or the kit sent it back after a failure or an
    outage. A delivery that is not ``resumed`` but whose work is under way already is a
    duplicate of the message (an outbox relay that crashed mid-batch sends a batch again):
    the work must not start a second time beside the first."""

    resumed: bool
    failures: int

    @classmethod
    def of(cls, message: Any) -> Delivery:
        headers = message.headers or {}
        raw = getattr(message, "raw_message", None)
        redelivered = bool(getattr(raw, "redelivered", False))
        return cls(resumed=redelivered or RETRIED_HEADER in headers, failures=failures(message))


WorkHandler = Callable[[Envelope[E], Delivery], Awaitable[None]]

# After this many failed deliveries a message is dead-lettered rather than retried again.
DELIVERY_LIMIT = 8
FAILURES_HEADER = "x-failed-deliveries"
# On every copy the kit sends back to a queue (after a failure, or an outage).
RETRIED_HEADER = "x-kit-retried"
# Back-off before the n-th retry (the last one repeats); each delay is a retry queue's TTL.
RETRY_DELAYS_SECONDS = (1, 4, 15, 60)
# Why a delivery that met an outage comes back later: the part that was away may be back.
UNAVAILABLE_RETRY_SECONDS = 2
RETRY_QUEUE_DELAYS = sorted({*RETRY_DELAYS_SECONDS, UNAVAILABLE_RETRY_SECONDS})
RPC_MESSAGE_TTL_MS = 5_000
MAX_DELAY = timedelta(minutes=25)
# Events no queue takes (no consumer by design, or published before any queue existed):
# kept for a look, not for ever.
UNROUTED_TTL_MS = 24 * 3600 * 1000
UNROUTED_MAX_MESSAGES = 10_000


def raw_body(message: Any) -> bytes:
    """FastStream's decoder for every kit subscriber: the bytes as they came. The kit
    parses them itself, so that no body (not JSON, not UTF-8) fails before it can be
    dead-lettered."""
    return cast(bytes, message.body)


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
        return RabbitQueue(
            self.name("alignment.unrouted"),
            durable=True,
            arguments=cast(
                Any,
                {
                    "x-message-ttl": UNROUTED_TTL_MS,
                    "x-max-length": UNROUTED_MAX_MESSAGES,
                    "x-overflow": "drop-head",
                },
            ),
        )

    def retry_exchanges(self) -> list[RabbitExchange]:
        return [self.retry_exchange(delay) for delay in RETRY_QUEUE_DELAYS]

    def retry_queues(self) -> list[RabbitQueue]:
        return [self.retry_queue(delay) for delay in RETRY_QUEUE_DELAYS]

    def retry_exchange(self, delay_seconds: int) -> RabbitExchange:
        return RabbitExchange(
            self.name(f"alignment.retry.{delay_seconds}s"), type=ExchangeType.FANOUT, durable=True
        )

    def retry_queue(self, delay_seconds: int) -> RabbitQueue:
        """Holds a copy ``delay_seconds``, then dead-letters it through the default exchange
        with the routing key it was published with: the name of the queue it goes back to."""
        return RabbitQueue(
            self.name(f"alignment.retry.{delay_seconds}s"),
            durable=True,
            arguments=cast(
                Any, {"x-message-ttl": delay_seconds * 1000, "x-dead-letter-exchange": ""}
            ),
        )

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
        consumer_timeout: timedelta | None = None,
    ) -> RabbitQueue:
        """``lane`` names a second queue of the same service for the same event type.
        ``consumer_timeout``: how long a delivery may stay unacknowledged before the broker
        takes it back (RabbitMQ 3.12 and later honour it per queue; the broker's
        ``consumer_timeout``, 30 min by default, holds elsewhere)."""
        name = self.name(f"{service}.{event_cls.routing_key()}" + (f".{lane}" if lane else ""))
        arguments: dict[str, Any] = {
            "x-dead-letter-exchange": self.dead_letter_exchange.name,
            "x-dead-letter-routing-key": name,
        }
        if consumer_timeout is not None:
            arguments["x-consumer-timeout"] = int(consumer_timeout.total_seconds() * 1000)
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
        try:
            unrouted = await broker.declare_queue(self.unrouted_queue)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise RuntimeError(
                f"{self.unrouted_queue.name} exists without its bounds (a broker used by a "
                "version before them): delete it, e.g. `rabbitmqctl delete_queue "
                f"{self.unrouted_queue.name}` (it holds only events no service consumes)"
            ) from exc
        await unrouted.bind(self.unrouted_exchange.name)
        await broker.declare_exchange(self.events_exchange)
        await broker.declare_exchange(self.dead_letter_exchange)
        for exchange, queue in zip(self.retry_exchanges(), self.retry_queues(), strict=True):
            await broker.declare_exchange(exchange)
            retry = await broker.declare_queue(queue)
            await retry.bind(exchange.name)

    async def count_unrouted(self, broker: RabbitBroker) -> int:
        """Messages waiting in the unrouted queue (also set as the ``unrouted_messages``
        gauge): a number above zero means an event type nobody consumes is published."""
        declared = await broker.declare_queue(self.unrouted_queue)
        # Declared again (same arguments) for a fresh count: the first declaration's
        # result is cached with the queue object.
        count = int((await declared.declare()).message_count or 0)
        UNROUTED_MESSAGES.set(count)
        return count

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
            # The commit's time: consumers measure the wait (and bound the queue's oldest
            # message, servicekit.queue_metrics) from it.
            timestamp=(message.created_at or utc_now()).replace(tzinfo=UTC),
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
            timestamp=utc_now(),
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
        """Register ``handler`` for ``event_cls``, run inside a unit of work that first
        claims the event in the inbox. ``prefetch=1`` for slow work, so that other replicas
        take the next message; ``priority`` honours message priorities. ``lane`` gives a
        second handler of the same event its own queue and its own inbox entries;
        ``delay`` holds each event until it is that old (at most ``MAX_DELAY``: the broker
        takes back deliveries left unacknowledged for 30 min)."""

        def register(handler: EventHandler[E]) -> EventHandler[E]:
            async def run(envelope: Envelope[E], message: Any) -> str:
                async with self.unit_of_work() as uow:
                    if not await uow.claim(envelope, scope=lane):  # type: ignore[arg-type]
                        log.info("event.duplicate_ignored")
                        return "duplicate"
                    await handler(envelope, uow)
                    await uow.commit()
                return "handled"

            self._subscribe(event_cls, run, handler, priority, prefetch, lane, delay)
            return handler

        return register

    def work(
        self,
        event_cls: type[E],
        *,
        priority: bool = False,
        prefetch: int | None = None,
        lane: str | None = None,
        delay: timedelta | None = None,
        consumer_timeout: timedelta | None = None,
    ) -> Callable[[WorkHandler[E]], WorkHandler[E]]:
        """Like :meth:`on`, for long work: no unit of work is open while ``handler`` runs
        (no transaction idles through an engine, ffmpeg or a transfer). The handler opens
        its own short ones and makes a redelivery harmless itself (its state says what is
        done already). Failures, retries and dead-lettering are as for :meth:`on`;
        ``consumer_timeout`` bounds one delivery's work (see ``Topology.event_queue``)."""

        def register(handler: WorkHandler[E]) -> WorkHandler[E]:
            async def run(envelope: Envelope[E], message: Any) -> str:
                await handler(envelope, Delivery.of(message))
                return "handled"

            self._subscribe(
                event_cls, run, handler, priority, prefetch, lane, delay, consumer_timeout
            )
            return handler

        return register

    def _subscribe(
        self,
        event_cls: type[E],
        run: Callable[[Envelope[E], Any], Awaitable[str]],
        handler: Callable[..., Any],
        priority: bool,
        prefetch: int | None,
        lane: str | None,
        delay: timedelta | None,
        consumer_timeout: timedelta | None = None,
    ) -> None:
        if delay is not None and not timedelta(0) <= delay <= MAX_DELAY:
            raise ValueError(f"delay must be between 0 and {MAX_DELAY}")
        queue = self.topology.event_queue(
            self.service,
            event_cls,
            priority=priority,
            lane=lane,
            consumer_timeout=consumer_timeout,
        )
        self.queues.append(queue)
        channel = self.channels[queue.name] = Channel(prefetch_count=prefetch) if prefetch else None

        async def consume(message: RabbitMessage) -> None:
            await self.deliver(event_cls, run, message, queue=queue.name, delay=delay)

        consume.__name__ = handler.__name__
        self.broker.subscriber(
            queue,
            self.topology.events_exchange,
            channel=channel,
            ack_policy=AckPolicy.MANUAL,
            decoder=raw_body,
            title=f"{self.service}: {event_cls.routing_key()}",
            description=handler.__doc__,
        )(consume)

    async def deliver(
        self,
        event_cls: type[E],
        run: Callable[[Envelope[E], Any], Awaitable[str]],
        message: Any,
        *,
        queue: str,
        delay: timedelta | None = None,
    ) -> None:
        note_delivery(queue, getattr(getattr(message, "raw_message", None), "timestamp", None))
        try:
            envelope = Envelope[event_cls].model_validate_json(message.body)  # type: ignore[valid-type]
        except ValidationError as exc:
            EVENTS_CONSUMED.labels(event_type=event_cls.routing_key(), outcome="malformed").inc()
            log.error(
                "event.malformed",
                queue=queue,
                expected=event_cls.routing_key(),
                errors=validation_errors(exc),
            )
            await message.reject(requeue=False)
            return
        with bind_context(**envelope.log_context()):
            tag_span(envelope.log_context())
            # Held before the unit of work opens, so that no transaction idles meanwhile.
            if delay is not None and not await self._held(envelope.occurred_at + delay):
                await message.nack(requeue=True)
                return
            outcome = await self._handle(envelope, run, message, queue)
            EVENTS_CONSUMED.labels(event_type=envelope.routing_key, outcome=outcome).inc()

    async def _held(self, until: datetime) -> bool:
        """Wait until ``until``; False when the service stops first."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds_until(until))
        except TimeoutError:
            return True
        return False

    async def _handle(
        self,
        envelope: Envelope[E],
        run: Callable[[Envelope[E], Any], Awaitable[str]],
        message: Any,
        queue: str,
    ) -> str:
        # A CancelledError (the connection went away, or the service stops) passes through:
        # the message was not acknowledged, so the broker delivers it again; no failure.
        try:
            outcome = await run(envelope, message)
        except PermanentFailure as exc:
            log.error("event.failed_permanently", error=str(exc))
            await message.reject(requeue=False)
            return "dead-lettered"
        except Exception as exc:
            if is_unavailable(exc):
                log.warning("event.postponed", reason=f"{type(exc).__name__}: a dependency is away")
                await self._retry(message, queue, failures(message), UNAVAILABLE_RETRY_SECONDS)
                return "postponed"
            failed = failures(message) + 1
            if failed >= self.topology.delivery_limit:
                log.exception(
                    "event.dead_lettered", failures=failed, limit=self.topology.delivery_limit
                )
                await message.reject(requeue=False)
                return "dead-lettered"
            delay = RETRY_DELAYS_SECONDS[min(failed, len(RETRY_DELAYS_SECONDS)) - 1]
            log.exception(
                "event.failed",
                failures=failed,
                limit=self.topology.delivery_limit,
                retry_in_seconds=delay,
            )
            await self._retry(message, queue, failed, delay)
            return "retried"
        await message.ack()
        if outcome == "handled":
            log.info("event.handled")
        return outcome

    async def _retry(self, message: Any, queue: str, failed: int, delay_seconds: int) -> None:
        """A copy waits ``delay_seconds`` in a retry queue, then goes back to ``queue``; the
        original is acknowledged only once the broker confirmed the copy."""
        raw = message.raw_message
        headers = {k: v for k, v in (raw.headers or {}).items() if k != "x-death"}
        await self.broker.publish(
            raw.body,
            exchange=self.topology.retry_exchange(delay_seconds),
            routing_key=queue,
            headers=headers | {FAILURES_HEADER: failed, RETRIED_HEADER: 1},
            persist=True,
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
            content_type=raw.content_type,
            priority=raw.priority,
            timestamp=raw.timestamp,
            timeout=10,
        )
        await message.ack()


def failures(message: Any) -> int:
    """How many deliveries of this message failed before (our header; 0 if absent or bad)."""
    try:
        return max(0, int((message.headers or {}).get(FAILURES_HEADER, 0)))
    except (TypeError, ValueError):
        return 0
