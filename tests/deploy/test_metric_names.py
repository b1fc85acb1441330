"""Every metric an alert rule or a Grafana dashboard reads is one the code defines (or an
exporter's we scrape: ``up``, SeaweedFS's, MinIO's), so a renamed metric cannot leave an
alert silently watching nothing."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import yaml
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from prometheus_client import REGISTRY, CollectorRegistry

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((ROOT / "deploy" / "dashboards" / "grafana").glob("*.json"))
# Each service's wiring imports every module that defines its metrics.
SERVICES = ("gateway", "auth", "storage", "aligner", "janitor", "notifier")
EXPORTERS = ("up", "SeaweedFS_", "minio_")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
KEYWORDS |= {"unless", "bool", "offset", "inf", "nan", "le"}


def defined_names() -> set[str]:
    for service in SERVICES:
        importlib.import_module(f"{service}_service.main")
    names = set(REGISTRY._names_to_collectors)  # with _total, _bucket, _count... suffixes
    faststream = CollectorRegistry()
    RabbitPrometheusMiddleware(registry=faststream)  # what ServiceRuntime's broker adds
    return names | set(faststream._names_to_collectors)


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads (not its functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables
    names = re.findall(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr)
    return {n for n in names if n.lower() not in KEYWORDS}


def rule_expressions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"recorded": []}
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                found.setdefault(path.name, []).append(rule["expr"])
                if "record" in rule:
                    found["recorded"].append(rule["record"])
    return found


def dashboard_expressions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            found.setdefault(path.name, []).extend(t["expr"] for t in panel.get("targets", []))
    return found


def test_the_parser_finds_names_and_only_names() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, job) (rate(http_request_seconds_bucket{job="a"}'
        '[5m]))) > 0.2 or absent(up{job="gateway"}) and on(job) jobs:error_ratio_15m'
    )
    assert metric_names(expr) == {"http_request_seconds_bucket", "up", "jobs:error_ratio_15m"}


def test_rules_and_dashboards_read_only_defined_metrics() -> None:
    rules = rule_expressions()
    recorded = set(rules.pop("recorded"))
    known = defined_names() | recorded
    sources = rules | dashboard_expressions()
    assert DASHBOARDS and RULES
    unknown = {
        (source, name)
        for source, expressions in sources.items()
        for expr in expressions
        for name in metric_names(expr)
        if name not in known and not name.startswith(EXPORTERS)
    }
    assert not unknown, f"metrics no code defines: {sorted(unknown)}"


def test_dashboards_cover_jobs_latency_queues_rtf_and_dead_letters() -> None:
    read = {n for exprs in dashboard_expressions().values() for e in exprs for n in metric_names(e)}
    for name in (
        "jobs_submitted_total",
        "jobs_failed_total",
        "job_submit_seconds:p95_5m",
        "queue_messages",
        "alignment_real_time_factor_bucket",
        "dead_letter_messages",
    ):
        assert name in read, name
