"""A local Prometheus (Debian's ``prometheus`` package) scraping the stack's processes
(``DEVSTACK_PROMETHEUS=1 make dev``), with the alert rules of ``deploy/prometheus/rules``.

Its scrape config is written from the stack's own ports (the compose file's,
``deploy/prometheus/prometheus.yml``, names containers); its data stays under the state
folder (``.dev/prometheus``); it stops with the stack."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from devstack.config import StackConfig
from devstack.processes import start_until_ready, stop_process

__all__ = ["RULES_DIR", "PrometheusServer", "prometheus_binary", "scrape_config"]

RULES_DIR = Path(__file__).resolve().parents[3] / "prometheus" / "rules"
SCRAPE_SECONDS = 5


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if not found:
        raise RuntimeError(
            "no `prometheus` binary: apt-get install prometheus (make system-deps does)"
        )
    return found


def scrape_config(
    config: StackConfig, *, object_store_metrics: str | None = None, rules_dir: Path = RULES_DIR
) -> dict[str, Any]:
    """One scrape job per service (the job's name is the service's, as in compose), every
    aligner replica a target of the ``aligner`` job."""
    targets: dict[str, list[str]] = {}
    for name in config.process_names():
        service = config.service_of(name)
        targets.setdefault(service, []).append(f"127.0.0.1:{config.ports[name]}")
    jobs: list[dict[str, Any]] = [
        {"job_name": service, "static_configs": [{"targets": hosts}]}
        for service, hosts in targets.items()
    ]
    if object_store_metrics:
        jobs.append(
            {"job_name": "object-store", "static_configs": [{"targets": [object_store_metrics]}]}
        )
    return {
        "global": {
            "scrape_interval": f"{SCRAPE_SECONDS}s",
            "evaluation_interval": f"{SCRAPE_SECONDS}s",
        },
        "rule_files": [str(rules_dir / "*.yml")] if rules_dir.is_dir() else [],
        "scrape_configs": jobs,
    }


class PrometheusServer:
    def __init__(
        self, config: StackConfig, port: int, *, object_store_metrics: str | None = None
    ) -> None:
        self.dir = config.state_dir / "prometheus"
        self.port = port
        self._config = config
        self._object_store_metrics = object_store_metrics
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 30.0) -> None:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        config_file = self.dir / "prometheus.yml"
        scrape = scrape_config(self._config, object_store_metrics=self._object_store_metrics)
        config_file.write_text(json.dumps(scrape, indent=2))  # JSON is YAML too
        command = [
            prometheus_binary(),
            f"--config.file={config_file}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            "--storage.tsdb.retention.time=7d",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self._process = start_until_ready(
            command,
            self.dir / "prometheus.log",
            self.ready,
            timeout=timeout,
            exited=lambda code: f"prometheus exited with {code}; see {self.dir / 'prometheus.log'}",
            not_ready=f"prometheus not ready on {self.url} after {timeout} s",
        )

    def stop(self) -> None:
        stop_process(self._process)

    def targets(self) -> list[dict[str, Any]]:
        """The active targets as Prometheus sees them (``/api/v1/targets``)."""
        answer = httpx.get(f"{self.url}/api/v1/targets", params={"state": "active"}, timeout=5)
        answer.raise_for_status()
        active: list[dict[str, Any]] = answer.json()["data"]["activeTargets"]
        return active
