"""OpenTelemetry: traces and logs over OTLP/HTTP (to OpenObserve), off unless configured.

Configured by the standard ``OTEL_*`` settings, read once as a service starts:

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
  ``..._LOGS_ENDPOINT``): where to send. Nothing set, nothing is exported and nothing is
  instrumented (the SDK's own default, localhost:4318, is not assumed).
- ``OTEL_SDK_DISABLED=true``: off whatever else is set.
- ``OTEL_TRACES_EXPORTER`` / ``OTEL_LOGS_EXPORTER``: ``otlp`` (the default), ``console`` or
  ``none``; ``OTEL_SERVICE_NAME`` (the service's name by default),
  ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS`` (OpenObserve's
  ``Authorization=Basic ...``), ``OTEL_BSP_SCHEDULE_DELAY``, ``OTEL_TRACES_SAMPLER``... as the
  SDK reads them. Only the ``http/protobuf`` protocol is installed.

A job's trace starts at the gateway's HTTP request and follows the job through the W3C
``traceparent`` header of every message: FastStream's telemetry middleware on every broker,
the RPC client's requests, and the outbox, whose rows keep the trace context of the moment
an event was recorded so that the relay publishes it, later, inside the same trace.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from faststream import BaseMiddleware
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.util.re import parse_env_headers

TRACE_HEADERS = ("traceparent", "tracestate", "baggage")  # W3C Trace Context, Baggage

__all__ = [
    "Telemetry",
    "attached",
    "client_span",
    "enabled",
    "inject",
    "recorded_trace_context",
    "start_telemetry",
    "tag_span",
]

ENDPOINT_SETTINGS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
)
# Server span attributes that may hold a query string (old and new HTTP conventions).
URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query")
# Probes and scrapes every few seconds would bury the requests worth a look.
UNTRACED_URLS = r"/(healthz|readyz|metrics)$"
# The outbox column's size; a longer tracestate is dropped, the traceparent kept.
MAX_TRACE_CONTEXT = 1000
TRACER_NAME = "servicekit"
# The exporter's own loggers (and its HTTP client's): not shipped through the exporter.
UNSHIPPED_LOGGERS = ("opentelemetry", "urllib3", "requests")
HeadersT = TypeVar("HeadersT", bound=MutableMapping[str, Any])
_SEVERITY = {
    logging.DEBUG: SeverityNumber.DEBUG,
    logging.INFO: SeverityNumber.INFO,
    logging.WARNING: SeverityNumber.WARN,
    logging.ERROR: SeverityNumber.ERROR,
    logging.CRITICAL: SeverityNumber.FATAL,
}
# Shipped as the record's body, severity and trace context, not again as attributes.
_NOT_ATTRIBUTES = frozenset({"event", "level", "timestamp", "trace_id", "span_id"})


class _Active:
    """Set by start_telemetry when traces are on; the helpers below do nothing while
    ``provider`` is None."""

    provider: TracerProvider | None = None


_active = _Active()


def enabled() -> bool:
    """Whether this process traces (cheap: hot paths ask it first)."""
    return _active.provider is not None


class TextTraceHeaders(BaseMiddleware):
    """Drops a consumed message's W3C trace headers that are not text before FastStream's
    telemetry middleware reads them: AMQP headers may be numbers, and OpenTelemetry's
    propagators raise on those, which would fail the message on every delivery."""

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        headers = msg.headers
        for name in TRACE_HEADERS:
            if name in headers and not isinstance(headers[name], str):
                del headers[name]
        return await call_next(msg)


@dataclass
class Telemetry:
    """What :func:`start_telemetry` set up; both ``None`` when telemetry is off."""

    service: str
    tracer_provider: TracerProvider | None = None
    logger_provider: LoggerProvider | None = None

    @property
    def on(self) -> bool:
        return self.tracer_provider is not None or self.logger_provider is not None

    def broker_middlewares(self) -> tuple[Any, ...]:
        """For ``RabbitBroker(middlewares=...)``: FastStream's own telemetry middleware,
        which continues the trace of each consumed message and injects the current one
        into each published message's headers."""
        if self.tracer_provider is None:
            return ()
        from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware  # noqa: PLC0415

        return (
            TextTraceHeaders,
            RabbitTelemetryMiddleware(tracer_provider=self.tracer_provider),
        )

    def instrument_app(self, app: Any) -> None:
        """A server span per HTTP request (continuing a caller's ``traceparent``)."""
        if self.tracer_provider is None:
            return
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415

        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.tracer_provider,
            excluded_urls=UNTRACED_URLS,
            exclude_spans=["receive", "send"],
            server_request_hook=redact_query_values,
        )

    def log_processors(self) -> list[Any]:
        """structlog processors: the current trace and span ids on every line."""
        return [add_trace_ids] if self.tracer_provider is not None else []

    def log_exporters(self) -> list[Any]:
        """structlog processors run on each finished event dict: ship it over OTLP."""
        if self.logger_provider is None:
            return []
        return [OtlpLogShipper(self.logger_provider.get_logger(TRACER_NAME))]

    def flush(self) -> None:
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush()
        if self.logger_provider is not None:
            self.logger_provider.force_flush()

    def shutdown(self) -> None:
        """Flush what is buffered and stop (also done at exit)."""
        if self.tracer_provider is not None:
            if _active.provider is self.tracer_provider:
                _active.provider = None
            self.tracer_provider.shutdown()
        if self.logger_provider is not None:
            self.logger_provider.shutdown()


def _setting(environ: Mapping[str, str], name: str, default: str = "") -> str:
    return environ.get(name, default).strip()


def _exporter_choice(environ: Mapping[str, str], name: str) -> str:
    choice = _setting(environ, name, "otlp").lower() or "otlp"
    if choice not in {"otlp", "console", "none"}:
        raise ValueError(f"{name}={choice!r}: only otlp, console and none are installed")
    return choice


def _resource(service: str, environ: Mapping[str, str]) -> Resource:
    return Resource.create(
        {
            "service.name": _setting(environ, "OTEL_SERVICE_NAME") or service,
            "service.namespace": "alignment",
            "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
        }
    )


def _otlp_target(environ: Mapping[str, str], signal: str) -> dict[str, Any]:
    """Endpoint and headers of one signal from ``environ`` (as the SDK would read them
    from the process's environment, which ``environ`` stands for)."""
    endpoint = _setting(environ, f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
    if not endpoint:
        base = _setting(environ, "OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318"
        endpoint = f"{base.rstrip('/')}/v1/{signal}"
    headers = _setting(environ, f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS") or _setting(
        environ, "OTEL_EXPORTER_OTLP_HEADERS"
    )
    return {"endpoint": endpoint, "headers": parse_env_headers(headers, liberal=True)}


def _span_exporter(choice: str, environ: Mapping[str, str]) -> SpanExporter:
    if choice == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    return OTLPSpanExporter(**_otlp_target(environ, "traces"))


def _log_exporter(choice: str, environ: Mapping[str, str]) -> LogRecordExporter:
    if choice == "console":
        return ConsoleLogRecordExporter()
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # noqa: PLC0415
        OTLPLogExporter,
    )

    return OTLPLogExporter(**_otlp_target(environ, "logs"))


def start_telemetry(
    service: str,
    environ: Mapping[str, str] | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    log_exporter: LogRecordExporter | None = None,
) -> Telemetry:
    """Read the ``OTEL_*`` settings and, when an endpoint is given, set up tracer and logger
    providers with batching OTLP/HTTP exporters. They are handed to what instruments
    (FastStream, FastAPI, the kit), not made the global ones, so that tests may start and
    stop telemetry freely. Exporters passed in (tests: the SDK's in-memory ones) turn
    telemetry on whatever the settings say."""
    environ = os.environ if environ is None else environ
    telemetry = Telemetry(service)
    _active.provider = None
    disabled = _setting(environ, "OTEL_SDK_DISABLED").lower() == "true"
    configured = any(_setting(environ, name) for name in ENDPOINT_SETTINGS)
    if disabled or not (configured or span_exporter or log_exporter):
        return telemetry
    resource = _resource(service, environ)
    traces, logs = "none", "none"  # a signal given no exporter, and no endpoint, is off
    if span_exporter or configured:
        traces = "given" if span_exporter else _exporter_choice(environ, "OTEL_TRACES_EXPORTER")
    if log_exporter or configured:
        logs = "given" if log_exporter else _exporter_choice(environ, "OTEL_LOGS_EXPORTER")
    if traces != "none":
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(
            BatchSpanProcessor(span_exporter or _span_exporter(traces, environ))
        )
        telemetry.tracer_provider = _active.provider = tracer_provider
    if logs != "none":
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(log_exporter or _log_exporter(logs, environ))
        )
        telemetry.logger_provider = logger_provider
    return telemetry


# -- propagation ---------------------------------------------------------------------


def inject(headers: HeadersT) -> HeadersT:
    """Write the current trace context (``traceparent``, ``tracestate``) into ``headers``."""
    if _active.provider is not None:
        propagate.inject(headers)
    return headers


def recorded_trace_context() -> str | None:
    """The current trace context as a JSON object, for an outbox row (``None`` when off or
    outside any trace)."""
    if _active.provider is None:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if not carrier:
        return None
    recorded = json.dumps(carrier, separators=(",", ":"))
    if len(recorded) > MAX_TRACE_CONTEXT:
        recorded = json.dumps({"traceparent": carrier.get("traceparent", "")})
    return recorded


def attached(recorded: str | None) -> AbstractContextManager[None]:
    """Run the block inside the trace context an outbox row recorded."""
    if _active.provider is None or not recorded:
        return nullcontext()
    try:
        carrier = json.loads(recorded)
    except ValueError:
        return nullcontext()
    if not isinstance(carrier, dict) or not all(isinstance(v, str) for v in carrier.values()):
        return nullcontext()  # not a carrier the propagator can read (it raises on others)
    return _attached(carrier)


@contextmanager
def _attached(carrier: dict[str, str]) -> Iterator[None]:
    token = otel_context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        otel_context.detach(token)


def client_span(name: str, **attributes: str) -> AbstractContextManager[Any]:
    """A CLIENT span around an outgoing call (an RPC), when tracing is on."""
    if _active.provider is None:
        return nullcontext()
    tracer = _active.provider.get_tracer(TRACER_NAME)
    return tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes)


def tag_span(values: Mapping[str, object]) -> None:
    """Put identifiers (job_id, user_id, correlation_id...) on the current span, so that a
    trace can be found by them too."""
    if _active.provider is None:
        return
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({k: str(v) for k, v in values.items() if v is not None})


def redact_query_values(span: trace.Span, _: object = None) -> None:
    """The server span's URL keeps its query's names, not their values: a query may carry
    a credential (the job stream's ``?token=``, presigned signatures)."""
    attributes = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes:
        return
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "=" in value:
            span.set_attribute(key, _without_query_values(value, whole=key != "url.query"))


def _without_query_values(value: str, *, whole: bool) -> str:
    parts = urlsplit(value) if whole else None
    query = parts.query if parts is not None else value
    if not query:
        return value
    redacted = urlencode(
        [(name, "REDACTED") for name, _ in parse_qsl(query, keep_blank_values=True)], safe=""
    )
    return parts._replace(query=redacted).geturl() if parts is not None else redacted


# -- logs ----------------------------------------------------------------------------


def add_trace_ids(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``trace_id`` and ``span_id`` (hex) while a span is current."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict["trace_id"] = trace.format_trace_id(span_context.trace_id)
        event_dict["span_id"] = trace.format_span_id(span_context.span_id)
    return event_dict


def _attribute(value: Any) -> Any:
    if isinstance(value, str | bool | int | float):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


class OtlpLogShipper:
    """The last structlog processor before rendering: sends the finished event (the same
    fields as the JSON line, secrets already redacted) as an OTLP log record, in the
    current trace context, and passes the event on unchanged."""

    def __init__(self, logger: Logger) -> None:
        self._logger = logger

    def __call__(
        self, _: Any, __: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if str(event_dict.get("logger", "")).startswith(UNSHIPPED_LOGGERS):
            return event_dict  # the exporter's own complaints would loop back to it
        level = logging.getLevelName(str(event_dict.get("level", "info")).upper())
        level = level if isinstance(level, int) else logging.INFO
        attributes = {
            key: _attribute(value)
            for key, value in event_dict.items()
            if value is not None and key not in _NOT_ATTRIBUTES
        }
        self._logger.emit(
            timestamp=time.time_ns(),
            severity_number=_SEVERITY.get(level, SeverityNumber.INFO),
            severity_text=logging.getLevelName(level),
            body=str(event_dict.get("event", "")),
            attributes=attributes,
        )
        return event_dict
