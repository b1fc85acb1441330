"""How a service process is put together and run.

One process per service: a FastStream app (broker, subscribers, outbox relay) driven by the
lifespan of a small FastAPI app that serves health and metrics (the gateway adds its public
API to the same app). Start-up applies the service's Alembic history, declares its queues
before consuming, then starts the relay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import uvicorn
from fastapi import FastAPI
from faststream import FastStream
from faststream.rabbit import RabbitBroker
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from faststream.specification import AsyncAPI
from prometheus_client import REGISTRY

from servicekit.db import Database
from servicekit.health import ReadinessCheck, add_operational_routes
from servicekit.logs import app_logger, broker_logger, configure_logging, get_logger
from servicekit.messaging import EventConsumers, Topology, make_publisher
from servicekit.migrations import upgrade_to_head
from servicekit.objects import Objects
from servicekit.outbox import OutboxRelay, UnitOfWork
from servicekit.queue_metrics import QueueSampler
from servicekit.retention import InboxPruner
from servicekit.s3 import make_object_store
from servicekit.settings import S3Settings, ServiceSettings
from servicekit.tracing import start_telemetry

__all__ = ["ServiceRuntime"]

T = TypeVar("T")

log = get_logger(__name__)

RECONNECT_SECONDS = 1.0


class ServiceRuntime:
    def __init__(self, name: str, settings: ServiceSettings, migrations_dir: Path) -> None:
        # Off (and free) unless OTEL_EXPORTER_OTLP_ENDPOINT is set: see servicekit.tracing.
        self.telemetry = start_telemetry(name)
        configure_logging(
            name,
            settings.log_level,
            settings.log_file,
            processors=self.telemetry.log_processors(),
            exporters=self.telemetry.log_exporters(),
        )
        self.name = name
        self.settings = settings
        self.migrations_dir = migrations_dir
        self.db = Database(settings.db_url.get_secret_value())
        # Reconnect within a second of the broker's return (the default waits 5 s).
        self.broker = RabbitBroker(
            settings.amqp_url.get_secret_value(),
            graceful_timeout=30,
            log_level=10,
            logger=broker_logger(),  # JSON lines, not FastStream's own handler
            reconnect_interval=RECONNECT_SECONDS,
            # faststream_received_*, faststream_published_*: counts, latency and
            # exceptions per handler and destination, for free.
            middlewares=[
                RabbitPrometheusMiddleware(registry=REGISTRY, app_name=name),
                *self.telemetry.broker_middlewares(),
            ],
        )
        self.topology = Topology(settings.namespace)
        self.relay = OutboxRelay(
            self.db,
            make_publisher(self.broker, self.topology),
            poll_seconds=settings.outbox_poll_seconds,
        )
        self.pruner = InboxPruner(self.db, timedelta(days=settings.inbox_retention_days))
        self.consumers: EventConsumers = EventConsumers(  # type: ignore[type-arg]
            self.broker, self.topology, name, self.unit_of_work
        )
        self.readiness: dict[str, ReadinessCheck] = {
            "database": self.db.ping,
            "broker": self._broker_ready,
        }
        self.stream = FastStream(
            self.broker,
            logger=app_logger(),
            on_startup=[self._prepare],
            after_startup=[self._start_relay],
            on_shutdown=[self._release_held, self._stop_relay],
            specification=AsyncAPI(self.broker, title=f"{name} service"),
        )
        # Read just before /metrics answers (gauges of things outside the process); a
        # service adds its own.
        self.samplers: list[Callable[[], Awaitable[object]]] = [
            self._count_unrouted,
            self.relay.sample,
            self._sample_queues,
        ]
        self._relay_task: asyncio.Task[None] | None = None
        self._pruner_task: asyncio.Task[None] | None = None
        # Hooks: before consuming starts (warm caches), after it started, before it stops.
        self.on_starting: list[Callable[[], Awaitable[None]]] = []
        self.on_started: list[Callable[[], Awaitable[None]]] = []
        self.on_stopping: list[Callable[[], Awaitable[None]]] = []

    def use_object_store(self, s3: S3Settings) -> Objects:
        """The service's bucket, which becomes part of its readiness."""
        client = make_object_store(s3)

        async def bucket_reachable() -> bool:
            return bool(await client.bucket_exists(s3.bucket))

        self.readiness["object_store"] = bucket_reachable
        return Objects(client, s3.bucket)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.name, on_commit=self.relay.kick)

    async def _count_unrouted(self) -> int:
        return await self.topology.count_unrouted(self.broker)

    async def _sample_queues(self) -> None:
        queues = self.consumers.queues
        dead = [self.topology.dead_letter_queue(q) for q in queues]
        await QueueSampler(self.broker, queues, dead).sample()

    async def _broker_ready(self) -> bool:
        return bool(await self.broker.ping(timeout=1.5))

    async def _prepare(self) -> None:
        await asyncio.to_thread(
            upgrade_to_head, self.migrations_dir, self.settings.db_url.get_secret_value()
        )
        await self.broker.connect()
        await self.topology.declare_common(self.broker)
        for queue in self.consumers.queues:
            channel = self.consumers.channels[queue.name]
            await self.topology.declare_consumer_queue(self.broker, queue, channel)
        for hook in self.on_starting:
            await hook()

    async def _start_relay(self) -> None:
        self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
        self._pruner_task = asyncio.create_task(self.pruner.run(), name="inbox-pruner")
        for hook in self.on_started:
            await hook()
        log.info("service.started", queues=[q.name for q in self.consumers.queues])

    async def _release_held(self) -> None:
        self.consumers.stopping.set()

    async def _stop_relay(self) -> None:
        for hook in self.on_stopping:
            await hook()
        if self._pruner_task:
            self._pruner_task.cancel()
        self.relay.stop()
        if self._relay_task:
            await self._relay_task

    async def run_command(self, command: Callable[[], Awaitable[T]]) -> T:
        """Run a one-off command (a CLI) with this service's DB and broker, then publish
        what it wrote to the outbox before returning."""
        await asyncio.to_thread(
            upgrade_to_head, self.migrations_dir, self.settings.db_url.get_secret_value()
        )
        await self.broker.connect()
        try:
            await self.topology.declare_common(self.broker)
            result = await command()
            while await self.relay.publish_pending():
                pass
            return result
        finally:
            await self.broker.stop()
            await self.db.dispose()

    def http_app(self, app: FastAPI | None = None) -> FastAPI:
        """The process's ASGI app; its lifespan runs the FastStream app."""

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            async with self.stream:
                yield
            await self.db.dispose()
            log.info("service.stopped")

        app = app or FastAPI(title=f"{self.name} service", docs_url=None, redoc_url=None)
        app.router.lifespan_context = lifespan
        add_operational_routes(app, self.name, self.readiness, samplers=self.samplers)
        self.telemetry.instrument_app(app)
        return app

    def run(self, app: FastAPI | None = None) -> None:
        uvicorn.run(
            self.http_app(app),
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,  # keep our JSON logging
            access_log=False,
            lifespan="on",
        )
