"""The small kit every service is built from: settings, logging, DB, outbox/inbox,
messaging topology and delivery rules, health, and the process runtime."""

from servicekit.db import Database, LongText, Timestamp, utc_naive_now
from servicekit.errors import PermanentFailure
from servicekit.logs import bind_context, configure_logging, get_logger
from servicekit.messaging import EventConsumers, Topology
from servicekit.outbox import OutboxRelay, UnitOfWork
from servicekit.runtime import ServiceRuntime
from servicekit.settings import Environment, S3Settings, ServiceSettings

__all__ = [
    "Database",
    "Environment",
    "EventConsumers",
    "LongText",
    "OutboxRelay",
    "PermanentFailure",
    "S3Settings",
    "ServiceRuntime",
    "ServiceSettings",
    "Timestamp",
    "Topology",
    "UnitOfWork",
    "bind_context",
    "configure_logging",
    "get_logger",
    "utc_naive_now",
]
