"""The OpenObserve dashboards (deploy/dashboards/openobserve) parse as OpenObserve's
dashboard export (version 5: what current OpenObserve imports, older ones too), and every
field their SQL reads is one the services' log records really have once OpenObserve has
ingested them over OTLP (resource and record attributes as columns, dots as underscores,
plus ``_timestamp``, ``severity``, ``body``, ``trace_id`` and ``span_id``)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts import Envelope, FilesStored
from servicekit.logs import bind_context, configure_logging, get_logger
from servicekit.tracing import start_telemetry

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "dashboards" / "openobserve"
STREAM = "default"  # where OTLP logs land unless a stream-name header says otherwise
PANEL_TYPES = {"area", "area-stacked", "bar", "h-bar", "line", "metric", "pie", "table"}
SQL_WORDS = {
    "select", "from", "where", "and", "or", "not", "in", "is", "null", "as", "group", "by",
    "order", "asc", "desc", "limit", "count", "min", "max", "histogram", "distinct",
}  # fmt: skip


def dashboards() -> list[tuple[str, dict[str, Any]]]:
    found = sorted(DASHBOARDS.glob("*.json"))
    assert {p.name for p in found} >= {"errors-by-service.json", "job-timeline.json"}
    return [(path.name, json.loads(path.read_text())) for path in found]


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for tab in dashboard["tabs"]:
        yield from tab["panels"]


def openobserve_key(key: str) -> str:
    """How OpenObserve names a column after an attribute (its flattening)."""
    return re.sub(r"[^a-z0-9_]", "_", key.lower())


@pytest.fixture
def ingested_logs(tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """Log records as the kit ships them (a consumer handling a job's event, in a trace),
    turned into the rows OpenObserve stores."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    shipped = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    telemetry = start_telemetry(
        "storage", {}, span_exporter=InMemorySpanExporter(), log_exporter=shipped
    )
    configure_logging(
        "storage",
        log_file=str(tmp_path / "storage.log"),
        processors=telemetry.log_processors(),
        exporters=telemetry.log_exporters(),
    )
    try:
        event = Envelope.wrap(
            FilesStored(
                job_id=uuid.uuid4(), user_id=uuid.uuid4(), language="en", files=[], total_bytes=0
            ),
            producer="storage",
            correlation_id="c-1",
        )
        assert telemetry.tracer_provider is not None
        tracer = telemetry.tracer_provider.get_tracer("test")
        log = get_logger("servicekit.messaging")
        with tracer.start_as_current_span("consume"), bind_context(**event.log_context()):
            log.info("event.handled")
            log.warning("event.postponed", reason="the database is away")
            log.error("event.failed", failures=1)
            log.critical("service.broken")
        telemetry.flush()
        rows = []
        for data in shipped.get_finished_logs():
            record = data.log_record
            row: dict[str, Any] = {
                openobserve_key(k): v for k, v in data.resource.attributes.items()
            }
            row |= {"_timestamp": record.timestamp, "severity": record.severity_text}
            row |= {"body": record.body}
            row |= {openobserve_key(k): v for k, v in (record.attributes or {}).items()}
            row |= {"trace_id": f"{record.trace_id:032x}", "span_id": f"{record.span_id:016x}"}
            rows.append(row)
        yield rows
    finally:
        telemetry.shutdown()
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers, root.level = handlers, level


def read_fields(sql: str) -> tuple[set[str], set[str], set[str]]:
    """(columns read, aliases made, variables used) of one panel's SQL."""
    variables = set(re.findall(r"\$(\w+)", sql))
    bare = re.sub(r"'[^']*'", "''", sql)  # string literals, variables inside them included
    aliases = set(re.findall(r'\bAS\s+"?(\w+)"?', bare, flags=re.IGNORECASE))
    bare = re.sub(r'"[^"]*"', "", bare)  # the stream's and the aliases' quoted names
    words = {w for w in re.findall(r"[A-Za-z_]\w*", bare) if w.lower() not in SQL_WORDS}
    return words - aliases, aliases, variables


def test_dashboards_have_openobserves_export_shape() -> None:
    for name, board in dashboards():
        assert board["version"] == 5, name
        assert board["dashboardId"] and board["title"] and board["description"], name
        declared = {v["name"] for v in board.get("variables", {}).get("list", [])}
        ids = [panel["id"] for panel in panels(board)]
        assert ids and len(ids) == len(set(ids)), name
        for panel in panels(board):
            where = f"{name}: {panel['title']}"
            assert panel["type"] in PANEL_TYPES, where
            assert isinstance(panel["config"]["show_legends"], bool), where
            assert set(panel["layout"]) >= {"x", "y", "w", "h", "i"}, where
            assert panel["queryType"] == "sql" and panel["queries"], where
            for query in panel["queries"]:
                fields = query["fields"]
                assert query["customQuery"] is True and isinstance(query["query"], str), where
                assert (fields["stream"], fields["stream_type"]) == (STREAM, "logs"), where
                assert f'FROM "{STREAM}"' in query["query"], where
                assert fields["filter"]["filterType"] == "group", where
                assert isinstance(query["config"]["promql_legend"], str), where
                axes = [*fields["x"], *fields["y"], *fields.get("breakdown", [])]
                assert all({"label", "alias", "column"} <= set(a) for a in axes), where
                _, aliases, variables = read_fields(query["query"])
                assert aliases == {a["alias"] for a in axes}, where  # every column shown
                assert variables <= declared, where


def test_dashboards_read_only_fields_the_shipped_logs_have(
    ingested_logs: list[dict[str, Any]],
) -> None:
    columns = set().union(*ingested_logs)
    # What the dashboards are about, present in every line of a job's event.
    for row in ingested_logs:
        assert {"service", "job_id", "user_id", "correlation_id", "trace_id"} <= set(row)
    severities = {row["severity"] for row in ingested_logs}
    assert severities == {"INFO", "WARNING", "ERROR", "CRITICAL"}
    for name, board in dashboards():
        for panel in panels(board):
            for query in panel["queries"]:
                read, _, _ = read_fields(query["query"])
                axes = [*query["fields"]["x"], *query["fields"]["y"]]
                read |= {a["column"] for a in axes}
                where = f"{name}: {panel['title']}"
                assert read <= columns, f"{where} reads {sorted(read - columns)}"
                used = set(re.findall(r"'([A-Z]+)'", query["query"]))
                assert used <= severities, f"{where}: no log line has severity {used}"
