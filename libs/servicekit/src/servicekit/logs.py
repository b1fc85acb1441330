"""structlog JSON logging: one event per line, always with service, correlation_id,
job_id and user_id (null when unknown), bound per message or request via contextvars.

Libraries log through the standard library into the same JSON renderer: FastStream (whose
own handlers would write coloured plain text), uvicorn, aio-pika and aiormq. A traceback
is the ``exception`` field of its line, never lines of its own."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

import faststream  # noqa: F401  (installs FastStream's own handler, which we then take off)
import structlog
from aio_pika.exceptions import (
    AuthenticationError,
    ChannelInvalidStateError,
    IncompatibleProtocolError,
    ProbableAuthenticationError,
)

__all__ = [
    "app_logger",
    "bind_context",
    "broker_logger",
    "configure_logging",
    "get_logger",
    "mark_reported",
]

CONTEXT_KEYS = ("correlation_id", "job_id", "user_id")
# Never log these, whatever a caller passes in.
REDACTED_KEYS = frozenset(
    {"password", "token", "access_token", "refresh_token", "authorization", "secret"}
)
# FastStream sets up these loggers with handlers of their own (plain text, colour codes,
# tracebacks as extra lines), and so does uvicorn when given a log config: configure_logging
# takes those handlers off so that every record reaches the root's JSON handler.
ADOPTED_LOGGERS = ("faststream", "uvicorn", "uvicorn.error", "uvicorn.asgi")
# Give these to RabbitBroker(logger=...) and FastStream(logger=...): left to itself, each
# broker builds a logger of its own that writes past the JSON handler.
BROKER_LOGGER = "faststream.broker"
APP_LOGGER = "faststream"
# Loggers that re-report an exception escaping the ASGI app ("Exception in ASGI
# application"), which Starlette re-raises even after an exception handler logged it.
SERVER_LOGGERS = frozenset({"uvicorn", "uvicorn.error"})
# Messages of a lost broker connection and of the attempts to get it back, by logger and
# the start of the message template. The clients reconnect by themselves and readiness
# reports the outage, so these are warnings, not an error for each attempt.
RECONNECT_MESSAGES = (
    ("aiormq.connection", "error when creating transport"),
    ("aiormq.connection", "Unexpected connection close from remote"),
    ("aio_pika.robust_queue", "%r timeout waiting for channel reconnection"),
)
AMQP_CLIENT_LOGGERS = ("aiormq", "aio_pika")
_REPORTED_MARK = "_servicekit_reported"


def _ensure_context_keys(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in CONTEXT_KEYS:
        event_dict.setdefault(key, None)
    return event_dict


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in REDACTED_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def _drop_colour_message(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # uvicorn passes its message again with terminal colour codes, as an ``extra``.
    event_dict.pop("color_message", None)
    return event_dict


def _service_key(service: str) -> structlog.types.Processor:
    def add_service(
        _: Any, __: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        # Also on lines from threads and tasks that do not carry the bound context.
        event_dict.setdefault("service", service)
        return event_dict

    return add_service


def _is_connection_lost(exc: object) -> bool:
    if isinstance(exc, RuntimeError) and not isinstance(exc, ChannelInvalidStateError):
        # aiormq's "<Connection: ...> closed" when a channel is asked of a lost connection
        return str(exc).startswith("<Connection") and str(exc).endswith(" closed")
    return isinstance(exc, ConnectionError | ChannelInvalidStateError) and not isinstance(
        exc, AuthenticationError | ProbableAuthenticationError | IncompatibleProtocolError
    )


class _ReconnectAtWarning(logging.Filter):
    """Rewrites aiormq's and aio-pika's errors about a lost connection or a reconnect
    attempt (including close callbacks failing for want of a transport) to warnings.
    Everything else, a handler's failure above all, keeps its level."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING and self._is_reconnect_noise(record):
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
            return record.levelno >= self.threshold
        return True

    @staticmethod
    def _is_reconnect_noise(record: logging.LogRecord) -> bool:
        if not record.name.startswith(AMQP_CLIENT_LOGGERS):
            return False
        template = str(record.msg)
        if any(
            record.name == name and template.startswith(start) for name, start in RECONNECT_MESSAGES
        ):
            return True
        causes = record.args if isinstance(record.args, tuple) else ()
        if record.exc_info:
            causes = (*causes, record.exc_info[1])
        return any(_is_connection_lost(cause) for cause in causes)


def _exception_of(record: logging.LogRecord) -> BaseException | None:
    exc_info: Any = record.exc_info
    if isinstance(record.msg, dict):  # a structlog event, not yet rendered
        exc_info = record.msg.get("exc_info") or exc_info
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    return None


def mark_reported(exc: BaseException) -> None:
    """The app answered for ``exc`` and logged what it had to (an exception handler): the
    server's own report of it ("Exception in ASGI application", since Starlette re-raises
    it after the handler's response) is left out."""
    with contextlib.suppress(AttributeError, TypeError):
        setattr(exc, _REPORTED_MARK, True)


class _EachErrorOnce(logging.Filter):
    """One line per error: an exception already logged at error with its traceback (the
    gateway's ``request.unhandled_error``), or marked with :func:`mark_reported`, is not
    logged again when the server reports it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = _exception_of(record)
        if exc is None:
            return True
        if record.name in SERVER_LOGGERS and getattr(exc, _REPORTED_MARK, False):
            return False
        if record.levelno >= logging.ERROR:
            mark_reported(exc)
        return True


def _adopt_library_loggers() -> None:
    existing = [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and name.startswith(f"{APP_LOGGER}.")
    ]
    for name in (*ADOPTED_LOGGERS, *existing):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def configure_logging(
    service: str,
    level: str = "INFO",
    log_file: str | None = None,
    *,
    processors: Sequence[structlog.types.Processor] = (),
    exporters: Sequence[structlog.types.Processor] = (),
) -> None:
    """Route structlog and the standard library (uvicorn, faststream, aio-pika) through
    one JSON renderer. ``processors`` add fields to every event (the trace ids);
    ``exporters`` see each finished event, redacted, just before it is rendered (and may
    ship it elsewhere too: servicekit.tracing's OTLP logs)."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _service_key(service),
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        *processors,
        _ensure_context_keys,
        _redact,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _drop_colour_message, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            *exporters,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stdout)
    )
    root = logging.getLogger()
    root.setLevel(level.upper())
    handler.setFormatter(formatter)
    # The service's level, whatever level a library sets on its own loggers (FastStream
    # sets its broker logger's to the broker's ``log_level``).
    handler.setLevel(root.level)
    handler.addFilter(_ReconnectAtWarning(root.level))
    handler.addFilter(_EachErrorOnce())
    root.handlers = [handler]
    _adopt_library_loggers()
    for noisy in ("aiormq", "aio_pika", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def broker_logger() -> logging.Logger:
    """For ``RabbitBroker(logger=...)``."""
    return logging.getLogger(BROKER_LOGGER)


def app_logger() -> logging.Logger:
    """For ``FastStream(logger=...)``."""
    return logging.getLogger(APP_LOGGER)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


@contextmanager
def bind_context(**values: Any) -> Iterator[None]:
    """Bind identifiers for the duration of one message or request."""
    tokens = structlog.contextvars.bind_contextvars(
        **{k: (None if v is None else str(v)) for k, v in values.items()}
    )
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
