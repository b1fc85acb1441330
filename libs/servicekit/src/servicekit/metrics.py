"""Prometheus metrics every service exposes on ``/metrics``."""

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "EVENTS_CONSUMED",
    "EVENTS_PUBLISHED",
    "HTTP_REQUESTS",
    "HTTP_SECONDS",
    "OUTBOX_PENDING",
    "OUTBOX_PUBLISH_FAILURES",
    "UNROUTED_MESSAGES",
]

EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events taken from the broker", ["event_type", "outcome"]
)
EVENTS_PUBLISHED = Counter(
    "events_published_total", "Events confirmed by the broker", ["event_type"]
)
OUTBOX_PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Failed outbox publishes")
OUTBOX_PENDING = Gauge("outbox_pending", "Outbox rows not yet published (sampled)")
HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_SECONDS = Histogram("http_request_seconds", "HTTP request latency", ["method", "route"])
UNROUTED_MESSAGES = Gauge(
    "unrouted_messages", "Events no queue took, waiting in alignment.unrouted (sampled)"
)
