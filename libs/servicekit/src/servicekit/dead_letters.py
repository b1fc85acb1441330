"""Operator tools for a service's dead-letter queues: ``<service> dead-letters ...``.

Each consumer queue ``<queue>`` dead-letters into ``<queue>.dead`` (a malformed message at
once, a failing one after the delivery limit). From there an operator can

  list                          every dead-letter queue of the service and its message count
  show QUEUE [--limit N]        the first N messages (10), left where they are
  replay QUEUE [--limit N]      move them (all) back to their queue, for a fresh set of tries
  purge QUEUE --yes             delete them all

QUEUE is a consumer queue's name, with or without the namespace prefix (and then the
service's name too) and the ``.dead`` suffix: ``auth.files.stored.v1`` or
``files.stored.v1``. Exit status: 0 done, 1 broker unreachable or a replay that could not
finish, 2 usage error (an unknown queue, purge without ``--yes``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
    DeliveryMode,
    HeadersType,
)
from aio_pika.exceptions import AMQPError, ChannelNotFoundEntity, DeliveryError
from pamqp.commands import Basic

if TYPE_CHECKING:
    from servicekit.runtime import ServiceRuntime

__all__ = [
    "DeadLetter",
    "ReplayStopped",
    "UnknownQueue",
    "dead_letter_counts",
    "dead_letters_main",
    "peek",
    "purge",
    "replay",
    "resolve_queue",
    "run_dead_letters",
]

DEAD_SUFFIX = ".dead"
FAILED_DELIVERIES_HEADER = "x-failed-deliveries"
BODY_PREVIEW_CHARS = 2_000
CONNECT_TIMEOUT_SECONDS = 10.0
# Headers the broker (or our consumers) add on the way to the dead-letter queue; a
# replayed message goes without them, so that it gets a fresh set of tries.
_DROPPED_HEADERS = frozenset({"x-death", "x-delivery-count", FAILED_DELIVERIES_HEADER})
_DROPPED_HEADER_PREFIXES = ("x-first-death-", "x-last-death-")


class UnknownQueue(LookupError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = list(known)
        listed = ", ".join(f"{q}{DEAD_SUFFIX}" for q in known) or "none"
        super().__init__(f"unknown queue {name!r}; this service's dead-letter queues: {listed}")


class ReplayStopped(Exception):
    """A replay that could not go on: ``replayed`` messages were moved before it stopped;
    the message it stopped at is still in the dead-letter queue."""

    def __init__(self, replayed: int, reason: str) -> None:
        self.replayed = replayed
        super().__init__(reason)


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message, as ``show`` reports it."""

    body: bytes
    message_id: str | None
    routing_key: str | None
    original_queue: str
    death_reason: str | None
    death_count: int | None
    death_time: datetime | None
    failed_deliveries: int | None
    event_type: str | None
    event_id: str | None

    @classmethod
    def from_message(cls, message: AbstractIncomingMessage, dead_queue: str) -> DeadLetter:
        death = _first_death(message.headers)
        event_type, event_id = _event_fields(message.body)
        time = death.get("time")
        return cls(
            body=message.body,
            message_id=message.message_id,
            routing_key=message.routing_key,
            original_queue=original_queue(message, dead_queue),
            death_reason=_text(death.get("reason")),
            death_count=_integer(death.get("count")),
            death_time=time if isinstance(time, datetime) else None,
            failed_deliveries=_integer((message.headers or {}).get(FAILED_DELIVERIES_HEADER)),
            event_type=event_type,
            event_id=event_id,
        )

    def describe(self, number: int) -> str:
        death = (
            f"reason={self.death_reason or '-'} count={_or_dash(self.death_count)}"
            f" time={self.death_time.isoformat() if self.death_time else '-'}"
        )
        return "\n".join(
            [
                f"#{number} message_id={_safe(self.message_id or '-')}"
                f" routing_key={_safe(self.routing_key or '-')}"
                f" original_queue={_safe(self.original_queue)}",
                f"  x-death: {death}  x-failed-deliveries: {_or_dash(self.failed_deliveries)}",
                f"  event_type={_safe(self.event_type or '-')}"
                f" event_id={_safe(self.event_id or '-')}",
                f"  body ({len(self.body)} bytes): {preview(self.body)}",
            ]
        )


# ---------------------------------------------------------------------------- queue names


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}{DEAD_SUFFIX}"


def resolve_queue(name: str, queues: Sequence[str], namespace: str = "", service: str = "") -> str:
    """The consumer queue ``name`` stands for (its full name, without ``.dead``): given with
    or without the namespace prefix (and then also without the service's name) and with or
    without the ``.dead`` suffix: ``ns.auth.files.stored.v1.dead``, ``auth.files.stored.v1``
    and ``files.stored.v1`` are the same queue of auth in namespace ``ns``."""
    prefix = f"{namespace}." if namespace else ""
    wanted = name.strip()
    candidates = {wanted, wanted.removesuffix(DEAD_SUFFIX)}
    for queue in queues:
        bare = queue.removeprefix(prefix)
        names = {queue, bare}
        if service and bare.startswith(f"{service}."):
            names.add(bare.removeprefix(f"{service}."))
        if candidates & names:
            return queue
    raise UnknownQueue(name, queues)


def original_queue(message: AbstractIncomingMessage, dead_queue: str) -> str:
    """The queue a dead letter came from: the latest ``x-death`` entry's queue (the broker
    lists the latest first), or else the dead-letter queue's name without ``.dead``."""
    queue = _text(_first_death(message.headers).get("queue"))
    return queue or dead_queue.removesuffix(DEAD_SUFFIX)


# ---------------------------------------------------------------------------- operations


async def connect(amqp_url: str) -> AbstractConnection:
    return await aio_pika.connect(amqp_url, timeout=CONNECT_TIMEOUT_SECONDS)


async def dead_letter_counts(amqp_url: str, queues: Sequence[str]) -> list[tuple[str, int]]:
    """Each consumer queue's dead-letter queue and how many messages wait there (0 for one
    not declared yet)."""
    counts: list[tuple[str, int]] = []
    async with await connect(amqp_url) as connection:
        for queue in queues:
            dead = dead_letter_queue_name(queue)
            counts.append((dead, await _message_count(connection, dead)))
    return counts


async def peek(amqp_url: str, dead_queue: str, limit: int = 10) -> list[DeadLetter]:
    """The first ``limit`` messages of ``dead_queue``, left in place: taken unacknowledged,
    then all handed back (nack with requeue) in their order."""
    taken: list[AbstractIncomingMessage] = []
    async with await connect(amqp_url) as connection:
        channel = await connection.channel()
        queue = await _existing_queue(connection, channel, dead_queue)
        if queue is None:
            return []
        try:
            while len(taken) < limit:
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                taken.append(message)
            return [DeadLetter.from_message(m, dead_queue) for m in taken]
        finally:
            if taken and not channel.is_closed:
                # One nack for all: back in the queue, in their original order.
                await taken[-1].nack(multiple=True, requeue=True)


async def replay(amqp_url: str, dead_queue: str, limit: int | None = None) -> int:
    """Move up to ``limit`` (default: all) messages from ``dead_queue`` back to their
    original queue through the default exchange, keeping body and properties but without
    the dead-letter headers. Each dead-letter copy is acked only after the broker confirmed
    its republished copy. At most the messages there at the start are moved, so that one
    failing again at once cannot keep a replay going. Returns how many were moved."""
    async with await connect(amqp_url) as connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        queue = await _existing_queue(connection, channel, dead_queue)
        if queue is None:
            return 0
        waiting = queue.declaration_result.message_count or 0
        budget = waiting if limit is None else min(limit, waiting)
        replayed = 0
        while replayed < budget:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            target = original_queue(message, dead_queue)
            try:
                confirmation = await channel.default_exchange.publish(
                    fresh_copy(message), routing_key=target, mandatory=True
                )
            except DeliveryError as exc:  # returned unroutable, or refused by the broker
                await message.nack(requeue=True)
                raise ReplayStopped(
                    replayed, f"the broker did not take a message for queue {target!r}: {exc}"
                ) from exc
            except BaseException:
                # Unconfirmed: the dead-letter copy stays (it returns when the channel goes).
                if not channel.is_closed:
                    await message.nack(requeue=True)
                raise
            if not isinstance(confirmation, Basic.Ack):
                await message.nack(requeue=True)
                raise ReplayStopped(replayed, f"no confirm for queue {target!r}: {confirmation}")
            await message.ack()
            replayed += 1
        return replayed


async def purge(amqp_url: str, dead_queue: str) -> int:
    """Delete every message waiting in ``dead_queue``; how many there were."""
    async with await connect(amqp_url) as connection:
        channel = await connection.channel()
        queue = await _existing_queue(connection, channel, dead_queue)
        if queue is None:
            return 0
        result = await queue.purge()
        return int(result.message_count or 0)


def fresh_copy(message: AbstractIncomingMessage) -> aio_pika.Message:
    """The message to republish: body and properties kept, dead-letter headers dropped.
    Persistent; no ``expiration`` (a dead letter has none left) nor ``user_id`` (the
    broker checks it against the replaying user)."""
    headers: HeadersType = {
        key: value
        for key, value in (message.headers or {}).items()
        if key not in _DROPPED_HEADERS and not key.startswith(_DROPPED_HEADER_PREFIXES)
    }
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=DeliveryMode.PERSISTENT,
        priority=message.priority,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
    )


async def _message_count(connection: AbstractConnection, name: str) -> int:
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(name, passive=True)
    except ChannelNotFoundEntity:
        return 0  # the failed passive declare closed that channel
    count = queue.declaration_result.message_count or 0
    await channel.close()
    return int(count)


async def _existing_queue(
    connection: AbstractConnection, channel: AbstractChannel, name: str
) -> AbstractQueue | None:
    """``name`` declared passively on ``channel``; None when it does not exist (checked on
    a channel of its own, since a failed passive declare closes the channel)."""
    if not await _exists(connection, name):
        return None
    return await channel.declare_queue(name, passive=True)


async def _exists(connection: AbstractConnection, name: str) -> bool:
    probe = await connection.channel()
    try:
        await probe.declare_queue(name, passive=True)
    except ChannelNotFoundEntity:
        return False
    await probe.close()
    return True


# ---------------------------------------------------------------------------- display


def preview(body: bytes, limit: int = BODY_PREVIEW_CHARS) -> str:
    """The body as one printable line: text up to ``limit`` characters; bytes that are not
    UTF-8 and control characters escaped (``\\xff``, ``\\n``, ``\\x1b``)."""
    try:
        text = body.decode("utf-8")
        note = ""
    except UnicodeDecodeError:
        text = body.decode("utf-8", errors="backslashreplace")
        note = "[not UTF-8] "
    shown = _safe(text[:limit])
    more = f" ... [{len(text) - limit} more characters]" if len(text) > limit else ""
    return f"{note}{shown}{more}"


def _safe(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def _first_death(headers: HeadersType | None) -> dict[str, Any]:
    deaths = (headers or {}).get("x-death")
    if isinstance(deaths, list | tuple) and deaths and isinstance(deaths[0], dict):
        return dict(deaths[0])
    return {}


def _event_fields(body: bytes) -> tuple[str | None, str | None]:
    try:
        document = json.loads(body)
    except ValueError:  # not JSON, or not text at all
        return None, None
    if not isinstance(document, dict):
        return None, None
    return _text(document.get("event_type")), _text(document.get("event_id"))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    return str(value)


def _integer(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str | bytes):
        return None
    try:
        return int(value)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- command line


def parser(prog: str = "dead-letters") -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog=prog,
        description="Inspect, replay or purge this service's dead-letter queues.",
        epilog="QUEUE: a consumer queue as 'list' names it, or without its namespace prefix,"
        " service name or '.dead' (files.stored.v1).",
    )
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="each dead-letter queue and its message count")
    show = commands.add_parser("show", help="the first messages, left in place")
    show.add_argument("queue", metavar="QUEUE")
    show.add_argument("--limit", type=_positive, default=10, help="how many (10)")
    again = commands.add_parser("replay", help="move messages back to their original queue")
    again.add_argument("queue", metavar="QUEUE")
    again.add_argument("--limit", type=_positive, default=None, help="how many (all)")
    drop = commands.add_parser("purge", help="delete every message of the queue")
    drop.add_argument("queue", metavar="QUEUE")
    drop.add_argument("--yes", action="store_true", help="really delete them")
    return root


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def dead_letters_main(
    argv: Sequence[str],
    *,
    amqp_url: str,
    queues: Sequence[str],
    namespace: str = "",
    service: str = "",
    prog: str = "dead-letters",
) -> int:
    """The command line over ``queues`` (the service's consumer queues, full names); the
    exit status. Usage errors exit through argparse (status 2)."""
    args = parser(prog).parse_args(list(argv))
    dead_queue = ""
    if args.command != "list":
        try:
            dead_queue = dead_letter_queue_name(
                resolve_queue(args.queue, queues, namespace, service)
            )
        except UnknownQueue as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return 2
        if args.command == "purge" and not args.yes:
            print(
                f"{prog}: purge deletes every message of {dead_queue}; add --yes to do it",
                file=sys.stderr,
            )
            return 2
    try:
        with _quiet_connection_warnings():
            return asyncio.run(_run(args, amqp_url, queues, dead_queue))
    except ReplayStopped as exc:
        print(f"replayed {exc.replayed} message(s) from {dead_queue}", flush=True)
        print(f"{prog}: replay stopped: {exc}", file=sys.stderr)
        return 1
    except (AMQPError, OSError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        print(f"{prog}: cannot reach RabbitMQ at {_where(amqp_url)}: {reason}", file=sys.stderr)
        return 1


async def _run(
    args: argparse.Namespace, amqp_url: str, queues: Sequence[str], dead_queue: str
) -> int:
    if args.command == "list":
        for name, count in await dead_letter_counts(amqp_url, queues):
            print(f"{count:>8}  {name}")
    elif args.command == "show":
        letters = await peek(amqp_url, dead_queue, args.limit)
        print(f"{dead_queue}: showing {len(letters)} message(s), left in place")
        for number, letter in enumerate(letters, start=1):
            print(letter.describe(number))
    elif args.command == "replay":
        replayed = await replay(amqp_url, dead_queue, args.limit)
        print(f"replayed {replayed} message(s) from {dead_queue}")
    else:
        purged = await purge(amqp_url, dead_queue)
        print(f"purged {purged} message(s) from {dead_queue}")
    return 0


@contextmanager
def _quiet_connection_warnings() -> Iterator[None]:
    """aiormq logs a failed connect as an error too, which the error line says already."""
    logger = logging.getLogger("aiormq.connection")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _where(amqp_url: str) -> str:
    """The broker's address without its credentials."""
    parts = urlsplit(amqp_url)
    return f"{parts.hostname or '?'}:{parts.port or 5672}{parts.path or '/'}"


def run_dead_letters(runtime: ServiceRuntime, argv: Sequence[str]) -> int:
    """``<service> dead-letters ARGS``: call after ``build()`` registered the handlers, with
    the arguments after ``dead-letters``; returns the exit status."""
    return dead_letters_main(
        argv,
        amqp_url=runtime.settings.amqp_url.get_secret_value(),
        queues=[queue.name for queue in runtime.consumers.queues],
        namespace=runtime.topology.namespace,
        service=runtime.name,
        prog=f"{runtime.name} dead-letters",
    )
