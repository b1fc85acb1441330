"""The Prometheus scrape config and alert rules are valid, and every alert fires on a bad
series and stays quiet on a good one (``promtool test rules``, Debian's ``prometheus``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("no promtool: make system-deps installs Debian's prometheus package")
    done = subprocess.run(
        [binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_scrape_config_is_valid() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")


def test_rules_are_valid() -> None:
    rules = sorted(str(p.relative_to(PROMETHEUS)) for p in (PROMETHEUS / "rules").glob("*.yml"))
    assert rules
    promtool("check", "rules", *rules)


def test_every_alert_has_a_unit_test() -> None:
    tests = sorted(str(p.relative_to(PROMETHEUS)) for p in (PROMETHEUS / "tests").glob("*.yml"))
    assert tests
    promtool("test", "rules", *tests)
    rules = "".join(p.read_text() for p in (PROMETHEUS / "rules").glob("*.yml"))
    tested = "".join(p.read_text() for p in (PROMETHEUS / "tests").glob("*.yml"))
    alerts = {line.split(":", 1)[1].strip() for line in rules.splitlines() if "- alert:" in line}
    untested = {a for a in alerts if f"alertname: {a}\n" not in tested}
    assert not untested, f"alerts without a promtool test: {sorted(untested)}"
