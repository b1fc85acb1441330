"""Prometheus metrics every service exposes on ``/metrics``.

Service-specific metrics live in the service (``gateway_service.metrics``,
``aligner_service.metrics``, ...); ``deploy/prometheus/rules`` and ``deploy/dashboards``
use only names defined here, there, or by FastStream's Prometheus middleware (a test
checks it)."""

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "DEAD_LETTER_MESSAGES",
    "EVENTS_CONSUMED",
    "EVENTS_PUBLISHED",
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "OUTBOX_OLDEST_PENDING_SECONDS",
    "OUTBOX_PENDING",
    "OUTBOX_PUBLISH_FAILURES",
    "OUTBOX_PUBLISH_LAG_SECONDS",
    "QUEUE_CONSUMERS",
    "QUEUE_MESSAGES",
    "QUEUE_OLDEST_MESSAGE_SECONDS",
    "QUEUE_WAIT_SECONDS",
    "RPC_SECONDS",
    "UNROUTED_MESSAGES",
]

# Seconds: from a few milliseconds (RPC, a quick handler) to an hour (a long file).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)

EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Events taken from the broker, by outcome (handled, duplicate, retried, postponed, "
    "dead-lettered, malformed)",
    ["event_type", "outcome"],
)
EVENTS_PUBLISHED = Counter(
    "events_published_total", "Events confirmed by the broker", ["event_type"]
)
OUTBOX_PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Failed outbox publishes")
OUTBOX_PENDING = Gauge("outbox_pending", "Outbox rows not yet published (sampled)")
OUTBOX_OLDEST_PENDING_SECONDS = Gauge(
    "outbox_oldest_pending_seconds",
    "Age of the oldest outbox row not yet published, 0 when none waits (sampled)",
)
OUTBOX_PUBLISH_LAG_SECONDS = Histogram(
    "outbox_publish_lag_seconds",
    "From an event's commit to the broker's confirm of its publish",
    buckets=WAIT_BUCKETS,
)
HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_SECONDS = Histogram(
    "http_request_seconds", "HTTP request latency", ["method", "route"], buckets=LATENCY_BUCKETS
)
UNROUTED_MESSAGES = Gauge(
    "unrouted_messages", "Events no queue took, waiting in alignment.unrouted (sampled)"
)
RPC_SECONDS = Histogram(
    "rpc_client_seconds",
    "Request/reply calls over RabbitMQ as the caller sees them, by outcome "
    "(ok, refused: a typed error reply, unavailable: no answer in time or no broker)",
    ["rpc", "outcome"],
    buckets=LATENCY_BUCKETS,
)
# Per queue of this service (its consumer queues and their ``.dead`` twins), sampled from
# the broker when /metrics is read.
QUEUE_MESSAGES = Gauge("queue_messages", "Messages ready in the queue (sampled)", ["queue"])
QUEUE_CONSUMERS = Gauge("queue_consumers", "Consumers on the queue (sampled)", ["queue"])
QUEUE_OLDEST_MESSAGE_SECONDS = Gauge(
    "queue_oldest_message_seconds",
    "Upper bound on the age of the oldest message ready in the queue, 0 when empty "
    "(sampled; see servicekit.queue_metrics)",
    ["queue"],
)
QUEUE_WAIT_SECONDS = Histogram(
    "queue_wait_seconds",
    "From an event's publish to its delivery to this consumer",
    ["queue"],
    buckets=WAIT_BUCKETS,
)
DEAD_LETTER_MESSAGES = Gauge(
    "dead_letter_messages",
    "Messages in the queue's dead-letter queue <queue>.dead (sampled)",
    ["queue"],
)
