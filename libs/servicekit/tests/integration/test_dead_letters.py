"""The dead-letters command (list, show, replay, purge) against a real RabbitMQ."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, DeliveryMode, HeadersType
from faststream.rabbit import RabbitBroker, RabbitQueue

from contracts import Envelope, FilesStored, UserDeleted, UserRegistered
from servicekit.dead_letters import (
    ReplayStopped,
    dead_letter_counts,
    dead_letters_main,
    peek,
    purge,
    replay,
    resolve_queue,
    run_dead_letters,
)
from servicekit.messaging import Topology
from servicekit.runtime import ServiceRuntime
from servicekit.settings import ServiceSettings

pytestmark = pytest.mark.integration

SERVICE = "kit-test"
BINARY_BODY = b"\xff\xfe\x00not json \x1b[31m"


@dataclass
class Queues:
    """The test's consumer queues (declared with their dead-letter queues) and one left
    undeclared; all are deleted afterwards."""

    topology: Topology
    quorum: RabbitQueue
    priority: RabbitQueue
    undeclared: RabbitQueue
    names: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[RabbitQueue]:
        return [self.quorum, self.priority, self.undeclared]


@pytest.fixture
def queues(amqp_url: str) -> Iterator[Queues]:
    topology = Topology(namespace="t" + secrets.token_hex(4), delivery_limit=3)
    made = Queues(
        topology,
        quorum=topology.event_queue(SERVICE, UserRegistered),
        priority=topology.event_queue(SERVICE, UserDeleted, priority=True),
        undeclared=topology.event_queue(SERVICE, FilesStored),
    )
    asyncio.run(_declare(amqp_url, topology, [made.quorum, made.priority]))
    yield made
    asyncio.run(_delete(amqp_url, topology, made.all))


async def _declare(amqp_url: str, topology: Topology, queues: Sequence[RabbitQueue]) -> None:
    broker = RabbitBroker(amqp_url, log_level=10)
    await broker.connect()
    try:
        # Only what dead-lettering needs (declare_common adds more, deleted by nobody here).
        await broker.declare_exchange(topology.events_exchange)
        await broker.declare_exchange(topology.dead_letter_exchange)
        for queue in queues:
            await topology.declare_consumer_queue(broker, queue)
    finally:
        await broker.stop()


async def _delete(amqp_url: str, topology: Topology, queues: Sequence[RabbitQueue]) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue.name)
            await channel.queue_delete(topology.dead_letter_queue(queue).name)
        for exchange in (topology.events_exchange, topology.dead_letter_exchange):
            await channel.exchange_delete(exchange.name)


def event_body() -> tuple[Envelope[UserRegistered], bytes]:
    event = Envelope.wrap(UserRegistered(user_id=uuid.uuid4()), producer="test", correlation_id="c")
    return event, event.model_dump_json().encode()


async def dead_letter(
    amqp_url: str,
    queue: str,
    body: bytes,
    *,
    priority: int,
    headers: HeadersType | None = None,
    message_id: str | None = None,
    correlation_id: str | None = None,
    content_type: str | None = None,
) -> None:
    """Publish into the consumer queue, then reject it from there: the broker dead-letters
    it (x-death reason 'rejected') into ``<queue>.dead``."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(
                body,
                headers=headers,
                priority=priority,
                message_id=message_id,
                correlation_id=correlation_id,
                content_type=content_type,
                delivery_mode=DeliveryMode.PERSISTENT,
            ),
            routing_key=queue,
        )
        source = await channel.get_queue(queue)
        message = await _get(source)
        await message.reject(requeue=False)


async def fill(amqp_url: str, queues: Queues) -> Envelope[UserRegistered]:
    """Two dead letters of the quorum queue (a JSON event with every property, then a
    binary body) and one of the priority queue."""
    event, body = event_body()
    await dead_letter(
        amqp_url,
        queues.quorum.name,
        body,
        priority=5,
        headers={"x-failed-deliveries": 8, "x-tenant": "acme"},
        message_id=str(event.event_id),
        correlation_id="corr-1",
        content_type="application/json",
    )
    await dead_letter(amqp_url, queues.quorum.name, BINARY_BODY, priority=1)
    await dead_letter(amqp_url, queues.priority.name, b'{"event_type": "x"}', priority=9)
    await _wait_for_counts(amqp_url, queues, {queues.quorum.name: 2, queues.priority.name: 1})
    return event


async def _wait_for_counts(amqp_url: str, queues: Queues, expected: dict[str, int]) -> None:
    """Dead-lettering out of a quorum queue is asynchronous: wait until they have landed."""
    wanted = {f"{name}.dead": count for name, count in expected.items()}
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        counts = dict(await dead_letter_counts(amqp_url, [q.name for q in queues.all]))
        if all(counts[name] == count for name, count in wanted.items()):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"dead letters did not land: {counts}")
        await asyncio.sleep(0.1)


async def _get(queue: aio_pika.abc.AbstractQueue) -> AbstractIncomingMessage:
    deadline = asyncio.get_running_loop().time() + 10
    while (message := await queue.get(no_ack=False, fail=False)) is None:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"nothing arrived in {queue.name}")
        await asyncio.sleep(0.05)
    return message


async def _take_all(amqp_url: str, queue: str, expected: int) -> list[AbstractIncomingMessage]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        source = await channel.get_queue(queue)
        taken = [await _get(source) for _ in range(expected)]
        for message in taken:
            await message.ack()
        assert await source.get(fail=False) is None, "more messages than expected"
    return taken


async def test_list_counts_every_dead_letter_queue_and_zero_for_one_not_declared(
    amqp_url: str, queues: Queues
) -> None:
    await fill(amqp_url, queues)
    counts = await dead_letter_counts(amqp_url, [q.name for q in queues.all])
    assert counts == [
        (f"{queues.quorum.name}.dead", 2),
        (f"{queues.priority.name}.dead", 1),
        (f"{queues.undeclared.name}.dead", 0),
    ]


async def test_show_reports_each_message_and_leaves_them_in_place(
    amqp_url: str, queues: Queues
) -> None:
    event = await fill(amqp_url, queues)
    dead = f"{queues.quorum.name}.dead"
    first, second = await peek(amqp_url, dead, limit=10)

    assert first.message_id == str(event.event_id)
    assert first.routing_key == queues.quorum.name  # the dead-letter routing key
    assert first.original_queue == queues.quorum.name
    assert first.death_reason == "rejected"
    assert first.death_count == 1
    assert first.death_time is not None
    assert first.failed_deliveries == 8
    assert first.event_type == "user.registered"
    assert first.event_id == str(event.event_id)
    assert str(event.event_id) in first.describe(1)

    assert second.body == BINARY_BODY
    assert second.event_type is None and second.event_id is None
    assert second.failed_deliveries is None
    shown = second.describe(2)
    assert "[not UTF-8]" in shown and "\\xff\\xfe" in shown and "\\x1b" in shown
    assert "\x1b" not in shown  # nothing reaches the terminal raw

    # nothing was taken away, and the order is kept
    assert [d.body for d in await peek(amqp_url, dead, limit=1)] == [first.body]
    assert dict(await dead_letter_counts(amqp_url, [queues.quorum.name])) == {dead: 2}
    assert await peek(amqp_url, f"{queues.undeclared.name}.dead") == []


async def test_replay_moves_them_back_with_body_and_properties_but_no_death_headers(
    amqp_url: str, queues: Queues
) -> None:
    event = await fill(amqp_url, queues)
    assert await replay(amqp_url, f"{queues.quorum.name}.dead") == 2
    assert await replay(amqp_url, f"{queues.priority.name}.dead") == 1

    counts = dict(await dead_letter_counts(amqp_url, [q.name for q in queues.all]))
    assert set(counts.values()) == {0}
    json_copy, binary_copy = await _take_all(amqp_url, queues.quorum.name, expected=2)
    assert json_copy.body == event.model_dump_json().encode()
    assert json_copy.message_id == str(event.event_id)
    assert json_copy.correlation_id == "corr-1"
    assert json_copy.content_type == "application/json"
    assert json_copy.priority == 5
    assert json_copy.delivery_mode == DeliveryMode.PERSISTENT
    headers = dict(json_copy.headers or {})
    assert "x-death" not in headers
    assert "x-failed-deliveries" not in headers
    assert not any(key.startswith(("x-first-death", "x-last-death")) for key in headers)
    assert headers.get("x-tenant") == "acme"  # other headers are kept
    assert binary_copy.body == BINARY_BODY
    assert binary_copy.priority == 1
    assert "x-death" not in (binary_copy.headers or {})

    (prioritised,) = await _take_all(amqp_url, queues.priority.name, expected=1)
    assert prioritised.priority == 9
    assert "x-death" not in (prioritised.headers or {})


async def test_replay_with_a_limit_moves_only_that_many_and_purge_empties(
    amqp_url: str, queues: Queues
) -> None:
    await fill(amqp_url, queues)
    dead = f"{queues.quorum.name}.dead"
    assert await replay(amqp_url, dead, limit=1) == 1
    assert dict(await dead_letter_counts(amqp_url, [queues.quorum.name])) == {dead: 1}
    (moved,) = await _take_all(amqp_url, queues.quorum.name, expected=1)
    assert moved.priority == 5  # the first one

    assert await purge(amqp_url, dead) == 1
    assert await purge(amqp_url, f"{queues.priority.name}.dead") == 1
    assert await purge(amqp_url, f"{queues.undeclared.name}.dead") == 0
    counts = dict(await dead_letter_counts(amqp_url, [q.name for q in queues.all]))
    assert set(counts.values()) == {0}


async def test_a_dead_letter_without_x_death_goes_back_where_its_queue_says(
    amqp_url: str, queues: Queues
) -> None:
    """Published straight into the dead-letter exchange: no x-death, so the original queue
    is the dead-letter queue's name without ``.dead``."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(queues.topology.dead_letter_exchange.name)
        await exchange.publish(
            aio_pika.Message(b"plain text", priority=3), routing_key=queues.quorum.name
        )
    dead = f"{queues.quorum.name}.dead"
    (letter,) = await peek(amqp_url, dead)
    assert letter.original_queue == queues.quorum.name
    assert letter.death_reason is None and letter.death_count is None
    assert await replay(amqp_url, dead) == 1
    (moved,) = await _take_all(amqp_url, queues.quorum.name, expected=1)
    assert moved.body == b"plain text" and moved.priority == 3


async def test_a_replay_whose_queue_is_gone_stops_and_keeps_the_dead_letter(
    amqp_url: str, queues: Queues
) -> None:
    await fill(amqp_url, queues)
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queues.quorum.name)
    dead = f"{queues.quorum.name}.dead"
    with pytest.raises(ReplayStopped) as stopped:
        await replay(amqp_url, dead)
    assert stopped.value.replayed == 0
    assert dict(await dead_letter_counts(amqp_url, [queues.quorum.name])) == {dead: 2}
    assert [d.failed_deliveries for d in await peek(amqp_url, dead)] == [8, None]  # in order


def test_queue_names_resolve_with_or_without_prefix_and_suffix() -> None:
    known = ["ns1.auth.user.registered.v1", "ns1.auth.user.deleted.v1"]
    for given in (
        "ns1.auth.user.registered.v1",
        "ns1.auth.user.registered.v1.dead",
        "auth.user.registered.v1",
        "auth.user.registered.v1.dead",
        "user.registered.v1",
        "user.registered.v1.dead",
    ):
        assert resolve_queue(given, known, "ns1", "auth") == "ns1.auth.user.registered.v1"
    lanes = ["aligner.files.stored.v1", "aligner.files.stored.v1.overdue"]
    assert resolve_queue("files.stored.v1.overdue", lanes, "", "aligner") == lanes[1]
    assert resolve_queue("files.stored.v1.dead", lanes, "", "aligner") == lanes[0]
    for unknown in (
        "auth.user.nothing.v1",
        "storage.user.registered.v1",
        "ns2.auth.user.registered.v1",
    ):
        with pytest.raises(LookupError, match="unknown queue"):
            resolve_queue(unknown, known, "ns1", "auth")


def test_the_command_line_lists_shows_replays_and_purges(
    amqp_url: str, queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through a real runtime's entry point, as ``<service> dead-letters ...`` runs it."""
    settings = ServiceSettings(
        db_url="mysql+aiomysql://nobody:unused@127.0.0.1:3306/unused",  # type: ignore[arg-type]
        amqp_url=amqp_url,  # type: ignore[arg-type]
        namespace=queues.topology.namespace,
    )
    runtime = ServiceRuntime(SERVICE, settings, Path("unused"))
    runtime.consumers.on(UserRegistered)(_never_called)
    runtime.consumers.on(UserDeleted, priority=True)(_never_called)
    runtime.consumers.on(FilesStored)(_never_called)
    assert [q.name for q in runtime.consumers.queues] == [q.name for q in queues.all]
    asyncio.run(fill(amqp_url, queues))
    capsys.readouterr()

    assert run_dead_letters(runtime, ["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"       2  {queues.quorum.name}.dead",
        f"       1  {queues.priority.name}.dead",
        f"       0  {queues.undeclared.name}.dead",
    ]

    bare = queues.quorum.name.removeprefix(queues.topology.namespace + ".")
    assert run_dead_letters(runtime, ["show", "user.registered.v1", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "showing 1 message(s)" in out and "event_type=user.registered" in out
    assert "x-failed-deliveries: 8" in out and "reason=rejected" in out

    assert run_dead_letters(runtime, ["show", "no.such.queue"]) == 2
    assert "unknown queue 'no.such.queue'" in capsys.readouterr().err

    assert run_dead_letters(runtime, ["purge", bare]) == 2  # not without --yes
    assert "--yes" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        run_dead_letters(runtime, ["replay"])
    assert usage.value.code == 2

    assert run_dead_letters(runtime, ["replay", f"{bare}.dead", "--limit", "1"]) == 0
    assert f"replayed 1 message(s) from {queues.quorum.name}.dead" in capsys.readouterr().out
    assert run_dead_letters(runtime, ["purge", queues.quorum.name, "--yes"]) == 0
    assert f"purged 1 message(s) from {queues.quorum.name}.dead" in capsys.readouterr().out

    unreachable = dead_letters_main(
        ["list"], amqp_url="amqp://guest:secret@127.0.0.1:1/", queues=[queues.quorum.name]
    )
    assert unreachable == 1
    err = capsys.readouterr().err
    assert err.startswith("dead-letters: cannot reach RabbitMQ at 127.0.0.1:1/")
    assert len(err.strip().splitlines()) == 1 and "secret" not in err


async def _never_called(event: Envelope[UserRegistered], uow: object) -> None:
    raise AssertionError("no consumer runs in these tests")
