"""Depth, consumers, dead letters and the age of the oldest message of a service's queues.

Each service samples its own consumer queues (and their ``.dead`` twins) when ``/metrics``
is read, so the numbers need nothing beyond AMQP: a queue declared again with the
arguments it was declared with answers its ready-message and consumer counts (the
management plugin may be off).

The age of the oldest waiting message cannot be read over AMQP without taking the message
(a peek by ``basic.get`` and a requeue would count as a delivery on a quorum queue, whose
delivery limit then dead-letters it), and the management API gives
``head_message_timestamp`` only for classic queues. So it is bounded from what this
process sees: every event is published with its commit time as the AMQP ``timestamp``;
a queue is FIFO, so the message at its head was published after the last one delivered
here, and after the last moment the queue was seen empty. The gauge is ``now`` minus the
later of the two: an upper bound that grows while nothing is taken. Before either is
known (a backlog found at start), it counts from the first sample that saw the backlog.
A priority queue may deliver a newer message first, so there it may say too little; the
gateway's ``jobs_oldest_waiting_seconds`` answers "how long has a job waited" per plan.
With several replicas, ``min by (queue)`` is the tightest bound.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from faststream.rabbit import RabbitBroker, RabbitQueue

from servicekit.metrics import (
    DEAD_LETTER_MESSAGES,
    QUEUE_CONSUMERS,
    QUEUE_MESSAGES,
    QUEUE_OLDEST_MESSAGE_SECONDS,
    QUEUE_WAIT_SECONDS,
)

__all__ = ["QueueClock", "QueueSampler", "note_delivery"]


@dataclass
class QueueClock:
    """What this process knows of a queue's head (wall-clock seconds since the epoch)."""

    last_delivered_published: float | None = None
    last_seen_empty: float | None = None
    backlog_seen: float | None = None

    def delivered(self, published: float | None, now: float) -> None:
        if published is not None:
            published = min(published, now)  # a publisher's clock ahead of ours
            self.last_delivered_published = max(self.last_delivered_published or 0, published)

    def oldest_age(self, ready: int, now: float) -> float:
        """Seconds the message at the head has waited at most (0 when the queue is empty)."""
        if ready == 0:
            self.last_seen_empty, self.backlog_seen = now, None
            return 0.0
        bounds = [b for b in (self.last_delivered_published, self.last_seen_empty) if b]
        if not bounds:
            self.backlog_seen = self.backlog_seen or now
            bounds = [self.backlog_seen]
        return max(0.0, now - max(bounds))


_CLOCKS: dict[str, QueueClock] = {}


def note_delivery(queue: str, published_at: datetime | None) -> None:
    """Called by the kit's consumers for each delivery (before it is handled)."""
    now = time.time()
    published = None
    if published_at is not None:
        aware = published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)
        published = aware.timestamp()
        QUEUE_WAIT_SECONDS.labels(queue).observe(max(0.0, now - published))
    _CLOCKS.setdefault(queue, QueueClock()).delivered(published, now)


@dataclass
class QueueSampler:
    broker: RabbitBroker
    queues: Sequence[RabbitQueue]
    dead_letter_queues: Sequence[RabbitQueue] = field(default_factory=list)

    async def sample(self) -> None:
        for queue in self.queues:
            ready, consumers = await self._counts(queue)
            QUEUE_MESSAGES.labels(queue.name).set(ready)
            QUEUE_CONSUMERS.labels(queue.name).set(consumers)
            clock = _CLOCKS.setdefault(queue.name, QueueClock())
            QUEUE_OLDEST_MESSAGE_SECONDS.labels(queue.name).set(
                clock.oldest_age(ready, time.time())
            )
        for dead in self.dead_letter_queues:
            ready, _ = await self._counts(dead)
            DEAD_LETTER_MESSAGES.labels(dead.name.removesuffix(".dead")).set(ready)

    async def _counts(self, queue: RabbitQueue) -> tuple[int, int]:
        # The queue object declared at start (same arguments), declared again for fresh
        # counts: its first answer is cached with it.
        declared = await self.broker.declare_queue(queue)
        answer = await declared.declare()
        return int(answer.message_count or 0), int(answer.consumer_count or 0)
