"""Telemetry is off without an endpoint; on, log lines carry the trace and are shipped as
OTLP log records with the same fields (secrets redacted), and a recorded trace context
brings its trace back later."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware
from opentelemetry import trace
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from servicekit import tracing
from servicekit.logs import bind_context, configure_logging, get_logger
from servicekit.tracing import Telemetry, start_telemetry

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}


@pytest.fixture
def telemetry() -> Iterator[tuple[Telemetry, InMemorySpanExporter, InMemoryLogRecordExporter]]:
    spans = InMemorySpanExporter()
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    started = start_telemetry("unit-svc", {}, span_exporter=spans, log_exporter=logs)
    yield started, spans, logs
    started.shutdown()


def tracer(telemetry: Telemetry) -> trace.Tracer:
    assert telemetry.tracer_provider is not None
    return telemetry.tracer_provider.get_tracer("test")


def test_off_without_an_endpoint_and_when_disabled() -> None:
    for environ in ({}, {**ENDPOINT, "OTEL_SDK_DISABLED": "true"}):
        off = start_telemetry("svc", environ)
        assert not off.on
        assert not tracing.enabled()
        assert off.broker_middlewares() == ()
        assert off.log_processors() == [] and off.log_exporters() == []
        assert tracing.recorded_trace_context() is None
        assert tracing.inject({}) == {}


def test_on_with_an_endpoint_named_by_the_service_or_otel_service_name() -> None:
    on = start_telemetry("svc", ENDPOINT)
    try:
        assert on.on and tracing.enabled()
        # Non-text trace headers are dropped first, then FastStream's own telemetry runs.
        sanitise, telemetry = on.broker_middlewares()
        assert sanitise is tracing.TextTraceHeaders
        assert isinstance(telemetry, RabbitTelemetryMiddleware)
        assert on.tracer_provider is not None
        assert on.tracer_provider.resource.attributes["service.name"] == "svc"
    finally:
        on.shutdown()
    assert not tracing.enabled()
    renamed = start_telemetry("svc", {**ENDPOINT, "OTEL_SERVICE_NAME": "svc-eu"})
    try:
        assert renamed.tracer_provider is not None
        assert renamed.tracer_provider.resource.attributes["service.name"] == "svc-eu"
    finally:
        renamed.shutdown()
    no_traces = start_telemetry("svc", {**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"})
    try:
        assert no_traces.tracer_provider is None and no_traces.logger_provider is not None
    finally:
        no_traces.shutdown()
    logs_only = start_telemetry("svc", {}, log_exporter=InMemoryLogRecordExporter())  # type: ignore[no-untyped-call]
    try:  # a signal given no exporter, and no endpoint, stays off
        assert logs_only.tracer_provider is None and logs_only.logger_provider is not None
    finally:
        logs_only.shutdown()
    with pytest.raises(ValueError, match="zipkin"):
        start_telemetry("svc", {**ENDPOINT, "OTEL_TRACES_EXPORTER": "zipkin"})


def test_log_lines_carry_the_trace_and_are_shipped_with_their_fields(
    tmp_path: Path,
    restore_logging: None,
    telemetry: tuple[Telemetry, InMemorySpanExporter, InMemoryLogRecordExporter],
) -> None:
    started, _, shipped = telemetry
    log_file = tmp_path / "svc.log"
    configure_logging(
        "unit-svc",
        log_file=str(log_file),
        processors=started.log_processors(),
        exporters=started.log_exporters(),
    )
    log = get_logger("unit.test")
    log.info("before.any.span")
    with (
        tracer(started).start_as_current_span("request") as span,
        bind_context(job_id="j-1", user_id="u-1", correlation_id="c-1"),
    ):
        log.info("job.step", password="hunter2", files={"a": 1}, count=3)
        logging.getLogger("faststream.broker").error("consumer failed")
    started.flush()

    trace_id = trace.format_trace_id(span.get_span_context().trace_id)
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    by_event = {line["event"]: line for line in lines}
    assert "trace_id" not in by_event["before.any.span"]
    assert by_event["job.step"]["trace_id"] == trace_id
    assert by_event["consumer failed"]["trace_id"] == trace_id  # a library's line too

    records = {r.log_record.body: r.log_record for r in shipped.get_finished_logs()}
    assert set(records) == {"before.any.span", "job.step", "consumer failed"}
    step = records["job.step"]
    attributes: dict[str, Any] = dict(step.attributes or {})
    assert {k: attributes[k] for k in ("service", "job_id", "user_id", "correlation_id")} == {
        "service": "unit-svc",
        "job_id": "j-1",
        "user_id": "u-1",
        "correlation_id": "c-1",
    }
    assert attributes["password"] == "[redacted]"
    assert json.loads(attributes["files"]) == {"a": 1} and attributes["count"] == 3
    assert step.severity_text == "INFO"
    assert trace.format_trace_id(step.trace_id or 0) == trace_id
    failed = records["consumer failed"]
    assert failed.severity_text == "ERROR"
    assert dict(failed.attributes or {})["logger"] == "faststream.broker"
    assert trace.format_trace_id(failed.trace_id or 0) == trace_id


def test_a_recorded_trace_context_brings_its_trace_back_later(
    telemetry: tuple[Telemetry, InMemorySpanExporter, InMemoryLogRecordExporter],
) -> None:
    started, spans, _ = telemetry
    with tracer(started).start_as_current_span("request") as span:
        recorded = tracing.recorded_trace_context()
        headers: dict[str, str] = tracing.inject({})
    trace_id = span.get_span_context().trace_id
    assert recorded is not None
    assert headers["traceparent"] == json.loads(recorded)["traceparent"]
    assert f"{trace_id:032x}" in headers["traceparent"]

    assert not trace.get_current_span().get_span_context().is_valid  # outside, later
    with tracing.attached(recorded), tracing.client_span("later call"):
        assert trace.get_current_span().get_span_context().trace_id == trace_id
    with tracing.attached("not json"), tracing.attached(None):
        assert not trace.get_current_span().get_span_context().is_valid
    # A row's context cut at any byte, or well-formed JSON that is no trace context:
    # the block runs outside any trace, nothing raises.
    malformed = [recorded[:k] for k in range(len(recorded))]
    malformed += ["[1]", '"x"', '{"traceparent": "00-zz-01"}', '{"traceparent": 7}']
    for bad in malformed:
        with tracing.attached(bad):
            assert not trace.get_current_span().get_span_context().is_valid, bad
    started.flush()
    later = next(s for s in spans.get_finished_spans() if s.name == "later call")
    assert later.context is not None and later.context.trace_id == trace_id
    assert later.parent is not None and later.parent.span_id == span.get_span_context().span_id


def test_http_spans_name_the_route_and_keep_no_query_values_or_credentials(
    telemetry: tuple[Telemetry, InMemorySpanExporter, InMemoryLogRecordExporter],
) -> None:
    started, spans, _ = telemetry
    app = FastAPI()

    @app.get("/jobs/{job_id}/events")
    async def events(job_id: str, token: str = "") -> dict[str, str]:
        return {}

    started.instrument_app(app)
    client = TestClient(app)
    response = client.get(
        "/jobs/j-1/events?token=s3cret-token&limit=5",
        headers={"authorization": "Bearer s3cret-bearer"},
    )
    assert response.status_code == 200
    assert client.get("/healthz").status_code == 404  # probes are not traced, even unknown
    started.flush()
    (span,) = spans.get_finished_spans()
    assert span.name == "GET /jobs/{job_id}/events"
    recorded = json.dumps(dict(span.attributes or {}))
    assert "s3cret" not in recorded
    assert "token=REDACTED" in recorded and "limit=REDACTED" in recorded


def test_where_each_signal_goes_comes_from_the_settings_given() -> None:
    openobserve = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://openobserve:5080/api/default/",
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Basic%20YTpi,stream-name=alignment",
    }
    assert tracing._otlp_target(openobserve, "traces") == {
        "endpoint": "http://openobserve:5080/api/default/v1/traces",
        "headers": {"authorization": "Basic YTpi", "stream-name": "alignment"},
    }
    logs_apart = {**openobserve, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://c:4318/v1/logs"}
    assert tracing._otlp_target(logs_apart, "logs")["endpoint"] == "http://c:4318/v1/logs"
