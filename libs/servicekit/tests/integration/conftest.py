"""A scratch schema with the kit's tables and an ``effects`` table standing for a
service's state, plus a TCP proxy that can cut a client off from RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aio_pika
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table

from servicekit.db import Database
from servicekit.messaging import Topology
from servicekit.outbox import kit_metadata

pytestmark = pytest.mark.integration

test_metadata = MetaData()
effects = Table(
    "effects",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(64), nullable=False),
)


@pytest.fixture
async def db(scratch_schema_url: str) -> AsyncIterator[Database]:
    database = Database(scratch_schema_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(kit_metadata.create_all)
        await connection.run_sync(test_metadata.create_all)
    yield database
    await database.dispose()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` drops every connection and stops
    listening (the broker is 'down'), ``restore()`` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, upstream_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.fixture
async def broker_proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(amqp_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    await proxy.restore()
    yield proxy
    with contextlib.suppress(Exception):
        await proxy.cut()


def via_proxy(amqp_url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(amqp_url)
    return parts._replace(
        netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"
    ).geturl()


@pytest.fixture
def topology() -> Topology:
    return Topology(namespace="t" + secrets.token_hex(4), delivery_limit=3)


@pytest.fixture
async def cleanup_broker(amqp_url: str, topology: Topology) -> AsyncIterator[list[str]]:
    """Queues named here (and the namespace's exchanges) are deleted after the test."""
    queues: list[str] = []
    yield queues
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in queues:
            await channel.queue_delete(name)
        for exchange in (
            topology.events_exchange,
            topology.dead_letter_exchange,
            topology.unrouted_exchange,
            *topology.retry_exchanges(),
        ):
            await channel.exchange_delete(exchange.name)
        for queue in (topology.unrouted_queue, *topology.retry_queues()):
            await channel.queue_delete(queue.name)
