"""A trace follows an event through the outbox and RabbitMQ (real MariaDB and broker):
the outbox row keeps the trace context of the moment the event was recorded, the relay
publishes it later inside that trace, FastStream's telemetry middleware continues it in the
consumer, whose own event carries it on. With telemetry off, rows record none."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage
from faststream.rabbit import RabbitBroker
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from contracts import Envelope, UserDeleted, UserRegistered
from servicekit.db import Database
from servicekit.messaging import EventConsumers, Topology, make_publisher
from servicekit.outbox import OutboxRelay, UnitOfWork, outbox_table
from servicekit.tracing import Telemetry, start_telemetry

pytestmark = pytest.mark.integration


@pytest.fixture
async def telemetry() -> AsyncIterator[tuple[Telemetry, InMemorySpanExporter]]:
    spans = InMemorySpanExporter()
    started = start_telemetry(
        "kit-test",
        {},
        span_exporter=spans,
        log_exporter=InMemoryLogRecordExporter(),  # type: ignore[no-untyped-call]
    )
    yield started, spans
    started.shutdown()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def recorded_contexts(db: Database, event_type: str) -> list[str | None]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(outbox_table.c.trace_context).where(outbox_table.c.routing_key == event_type)
        )
        return [row.trace_context for row in rows]


def trace_id_of(traceparent: str) -> int:
    return int(traceparent.split("-")[1], 16)


async def test_a_trace_goes_through_the_outbox_a_consumer_and_its_own_event(
    amqp_url: str,
    db: Database,
    topology: Topology,
    cleanup_broker: list[str],
    telemetry: tuple[Telemetry, InMemorySpanExporter],
) -> None:
    started, spans = telemetry
    broker = RabbitBroker(amqp_url, log_level=10, middlewares=started.broker_middlewares())
    consumers: EventConsumers = EventConsumers(  # type: ignore[type-arg]
        broker, topology, "kit-test", lambda: UnitOfWork(db, "kit-test")
    )

    @consumers.on(UserRegistered)
    async def forward(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        uow.emit(UserDeleted(user_id=event.payload.user_id), correlation_id="c-trace")

    relay = OutboxRelay(db, make_publisher(broker, topology))
    await broker.connect()
    await topology.declare_common(broker)
    for queue in consumers.queues:
        await topology.declare_consumer_queue(broker, queue, consumers.channels[queue.name])
        cleanup_broker += [queue.name, topology.dead_letter_queue(queue).name]
    # What leaves the consumer's own event: seen as raw AMQP, headers and all.
    received: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
    watcher = await aio_pika.connect(amqp_url)
    channel = await watcher.channel()
    watch = await channel.declare_queue(topology.name("trace-watch"), auto_delete=True)
    await watch.bind(topology.events_exchange.name, routing_key=UserDeleted.routing_key())
    await watch.consume(received.put, no_ack=True)
    await broker.start()
    try:
        assert started.tracer_provider is not None
        tracer = started.tracer_provider.get_tracer("test")
        with tracer.start_as_current_span("POST /users") as request:
            async with UnitOfWork(db, "kit-test") as uow:
                uow.emit(UserRegistered(user_id=uuid.uuid4()), correlation_id="c-trace")
                await uow.commit()
        trace_id = request.get_span_context().trace_id

        (recorded,) = await recorded_contexts(db, UserRegistered.routing_key())
        assert recorded is not None
        assert trace_id_of(json.loads(recorded)["traceparent"]) == trace_id

        # The relay runs later, outside any trace, as it does in a service.
        assert await relay.publish_pending() == 1

        async def forwarded() -> bool:
            return bool(await recorded_contexts(db, UserDeleted.routing_key()))

        await eventually(forwarded)
        (onward,) = await recorded_contexts(db, UserDeleted.routing_key())
        assert onward is not None
        assert trace_id_of(json.loads(onward)["traceparent"]) == trace_id
        assert await relay.publish_pending() == 1
        message = await asyncio.wait_for(received.get(), timeout=10)
        assert trace_id_of(str((message.headers or {})["traceparent"])) == trace_id
    finally:
        await broker.stop()
        await watcher.close()

    started.flush()
    finished = spans.get_finished_spans()
    in_trace = {s.name for s in finished if s.context and s.context.trace_id == trace_id}
    events = topology.events_exchange.name
    assert {
        "POST /users",
        f"{events}.{UserRegistered.routing_key()} publish",
        f"{events}.{UserRegistered.routing_key()} process",
        f"{events}.{UserDeleted.routing_key()} publish",
    } <= in_trace, in_trace
    consumed = f"{UserRegistered.routing_key()} process"
    process = next(s for s in finished if s.name.endswith(consumed))
    assert process.attributes is not None
    assert process.attributes["correlation_id"] == "c-trace"  # found by its identifiers too


async def test_without_telemetry_rows_record_no_trace(db: Database) -> None:
    start_telemetry("kit-test", {})  # no endpoint: off (as in make dev, unless asked for)
    async with UnitOfWork(db, "kit-test") as uow:
        uow.emit(UserDeleted(user_id=uuid.uuid4()), correlation_id="c")
        await uow.commit()
    assert await recorded_contexts(db, UserDeleted.routing_key()) == [None]


async def test_a_message_whose_trace_headers_are_not_text_is_still_handled(
    amqp_url: str,
    db: Database,
    topology: Topology,
    cleanup_broker: list[str],
    telemetry: tuple[Telemetry, InMemorySpanExporter],
) -> None:
    """AMQP headers may be numbers; OpenTelemetry's propagators raise on a traceparent,
    tracestate or baggage that is not text. Such a message is handled, outside any trace
    of the sender's, not failed over and over."""
    started, _ = telemetry
    broker = RabbitBroker(amqp_url, log_level=10, middlewares=started.broker_middlewares())
    consumers: EventConsumers = EventConsumers(  # type: ignore[type-arg]
        broker, topology, "kit-test", lambda: UnitOfWork(db, "kit-test")
    )
    handled: list[uuid.UUID] = []

    @consumers.on(UserRegistered)
    async def handle(event: Envelope[UserRegistered], uow: UnitOfWork) -> None:
        handled.append(event.event_id)

    await broker.connect()
    await topology.declare_common(broker)
    for queue in consumers.queues:
        await topology.declare_consumer_queue(broker, queue, consumers.channels[queue.name])
        cleanup_broker += [queue.name, topology.dead_letter_queue(queue).name]
    await broker.start()
    # Published without telemetry, which would write a proper traceparent over these.
    sender = RabbitBroker(amqp_url, log_level=10)
    await sender.connect()
    try:
        events = [
            Envelope.wrap(UserRegistered(user_id=uuid.uuid4()), producer="t", correlation_id="c")
            for _ in range(3)
        ]
        for event, name in zip(events, ("traceparent", "tracestate", "baggage"), strict=True):
            await sender.publish(
                event.model_dump_json().encode(),
                exchange=topology.events_exchange,
                routing_key=event.routing_key,
                content_type="application/json",
                persist=True,
                headers={name: 7},
            )

        async def all_handled() -> bool:
            return sorted(handled) == sorted(e.event_id for e in events)

        await eventually(all_handled)
    finally:
        await sender.stop()
        await broker.stop()
