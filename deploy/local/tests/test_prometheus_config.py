"""The scrape config ``DEVSTACK_PROMETHEUS=1`` writes: one job per service, every aligner
replica a target, the repo's alert rules loaded; promtool accepts it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from devstack.config import DEFAULT_PORTS, StackConfig
from devstack.prometheus import RULES_DIR, scrape_config


def test_one_job_per_service_with_every_replica(tmp_path: Path) -> None:
    ports = dict(DEFAULT_PORTS) | {"aligner-2": 9103, "aligner-3": 9104}
    config = StackConfig(state_dir=tmp_path, ports=ports, aligner_replicas=3)
    scrape = scrape_config(config, object_store_metrics="127.0.0.1:8338")
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in scrape["scrape_configs"]}
    assert jobs["aligner"] == ["127.0.0.1:8003", "127.0.0.1:9103", "127.0.0.1:9104"]
    assert jobs["gateway"] == ["127.0.0.1:8000"]
    assert set(jobs) == {*DEFAULT_PORTS, "object-store"}
    assert scrape["rule_files"] == [str(RULES_DIR / "*.yml")]
    assert list(RULES_DIR.glob("*.yml"))


def test_promtool_accepts_it(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("no promtool: make system-deps installs Debian's prometheus package")
    path = tmp_path / "prometheus.yml"
    path.write_text(json.dumps(scrape_config(StackConfig(state_dir=tmp_path))))
    done = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
