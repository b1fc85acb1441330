"""One job, one trace: a stack whose services export over OTLP/HTTP to a receiver run by the
test (as they would to OpenObserve). The job's submit carries a ``traceparent``; every
service that takes part in the job (gateway, auth, storage, aligner, janitor, notifier)
sends spans of that one trace, and log records with the job's id and the trace's id."""

from __future__ import annotations

import gzip
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from devstack import Stack
from devstack.config import SERVICES
from devstack.testing import Infrastructure, isolated_stack_config, running_stack
from tests.e2e.helpers import eval_pair, new_user, pair_files, wait_for

pytestmark = pytest.mark.e2e

PAIR = "timit/dr4-falr0_sx65"  # 3 s of speech
IN_THE_JOB = set(SERVICES)  # all six take part in a job that completes


@dataclass(frozen=True)
class Span:
    service: str
    trace_id: str
    name: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class LogRecord:
    service: str
    trace_id: str
    body: str
    attributes: dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


class OtlpReceiver:
    """OTLP/HTTP (protobuf) on 127.0.0.1: keeps every span and log record it is sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.logs: list[LogRecord] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                reply: ExportTraceServiceResponse | ExportLogsServiceResponse
                if self.path == "/v1/traces":
                    receiver.take_spans(ExportTraceServiceRequest.FromString(body))
                    reply = ExportTraceServiceResponse()
                elif self.path == "/v1/logs":
                    receiver.take_logs(ExportLogsServiceRequest.FromString(body))
                    reply = ExportLogsServiceResponse()
                else:
                    self.send_error(404)
                    return
                answer = reply.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take_spans(self, request: ExportTraceServiceRequest) -> None:
        found = [
            Span(
                str(_attributes(rs.resource.attributes).get("service.name")),
                span.trace_id.hex(),
                span.name,
                _attributes(span.attributes),
            )
            for rs in request.resource_spans
            for scope in rs.scope_spans
            for span in scope.spans
        ]
        with self._lock:
            self.spans += found

    def take_logs(self, request: ExportLogsServiceRequest) -> None:
        found = [
            LogRecord(
                str(_attributes(rl.resource.attributes).get("service.name")),
                record.trace_id.hex(),
                str(_value(record.body)),
                _attributes(record.attributes),
            )
            for rl in request.resource_logs
            for scope in rl.scope_logs
            for record in scope.log_records
        ]
        with self._lock:
            self.logs += found

    def spans_of(self, trace_id: str) -> list[Span]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def traced_stack(
    infrastructure: Infrastructure,
    receiver: OtlpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    config = isolated_stack_config(infrastructure, Path(tmp_path_factory.mktemp("traced")))
    for service in SERVICES:
        config.extra_env.setdefault(service, {}).update(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                # Whatever the shell running the tests says.
                "OTEL_SDK_DISABLED": "false",
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_LOGS_EXPORTER": "otlp",
                "OTEL_TRACES_SAMPLER": "parentbased_always_on",
                # Batches leave within a fifth of a second rather than five.
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "OTEL_BLRP_SCHEDULE_DELAY": "200",
            }
        )
    with running_stack(config) as stack:
        yield stack


def test_the_spans_of_one_job_share_one_trace_across_the_services(
    traced_stack: Stack, receiver: OtlpReceiver
) -> None:
    user = new_user(traced_stack)
    trace_id = secrets.token_hex(16)
    response = user.client.post(
        "/alignment/",
        files=pair_files(eval_pair(PAIR)),
        headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert wait_for(user, job_id)["status"] == "COMPLETED"

    deadline = time.monotonic() + 20
    while {s.service for s in receiver.spans_of(trace_id)} < IN_THE_JOB:
        assert time.monotonic() < deadline, (
            f"no span of the job's trace from "
            f"{sorted(IN_THE_JOB - {s.service for s in receiver.spans_of(trace_id)})}"
        )
        time.sleep(0.3)

    spans = receiver.spans_of(trace_id)
    assert any(s.service == "gateway" and s.name == "POST /api/v1/alignment/" for s in spans)
    # Every span tagged with the job, whichever service sent it, is in the job's trace.
    tagged = [s for s in receiver.spans if s.attributes.get("job_id") == job_id]
    assert {s.service for s in tagged} >= IN_THE_JOB - {"gateway"}, tagged
    assert all(s.trace_id == trace_id for s in tagged), [
        (s.service, s.name) for s in tagged if s.trace_id != trace_id
    ]

    # The job's log lines reach OTLP too, with the job's id and trace.
    deadline = time.monotonic() + 10
    while not (logs := [r for r in receiver.logs if r.attributes.get("job_id") == job_id]):
        assert time.monotonic() < deadline, "no log record of the job"
        time.sleep(0.3)
    assert {r.trace_id for r in logs} == {trace_id}, {(r.service, r.body) for r in logs}
    assert all(r.attributes.get("service") == r.service for r in logs)
