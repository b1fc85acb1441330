"""Replicas that start at once: two upgrades of one fresh schema at the same moment both
succeed, and the history runs once (servicekit.migrations.schema_lock)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pymysql
import pytest

pytestmark = pytest.mark.integration

ENV = """
from servicekit.migrations import run_alembic_env

run_alembic_env([], "")
"""

# Slow on purpose, so that the second process arrives while the first is in the middle;
# every run leaves a row in `runs`, and a second run would fail on `once` anyway.
SLOW_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute("CREATE TABLE IF NOT EXISTS runs (id INTEGER AUTO_INCREMENT PRIMARY KEY)")
    op.execute("INSERT INTO runs () VALUES ()")
    op.execute("SELECT SLEEP(1.5)")
    op.create_table("once", sa.Column("id", sa.Integer, primary_key=True))
"""

UPGRADE = "import sys; from pathlib import Path; from servicekit.migrations import " + (
    "upgrade_to_head; upgrade_to_head(Path(sys.argv[1]), sys.argv[2])"
)


def history(folder: Path) -> Path:
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(textwrap.dedent(ENV))
    (folder / "versions" / "0001_slow.py").write_text(textwrap.dedent(SLOW_REVISION))
    return folder


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    parts = urlsplit(url)
    connection = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username,
        password=parts.password or "",
        database=parts.path.lstrip("/"),
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        connection.close()


def test_two_upgrades_at_once_both_succeed_and_migrate_once(
    scratch_schema_url: str, tmp_path: Path
) -> None:
    migrations = history(tmp_path / "migrations")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE, str(migrations), scratch_schema_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert rows(scratch_schema_url, "SELECT COUNT(*) FROM runs") == [(1,)]
    assert rows(scratch_schema_url, "SELECT version_num FROM alembic_version") == [("0001",)]


def test_the_one_shot_step_upgrades_a_service_schema_from_its_setting(
    scratch_schema_url: str,
) -> None:
    def migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "servicekit.migrate", "notifier"],
            env={"PATH": os.environ.get("PATH", "")} | env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    missing = migrate({})
    assert missing.returncode == 2
    assert "NOTIFIER_DB_URL is not set" in missing.stderr
    done = migrate({"NOTIFIER_DB_URL": scratch_schema_url})
    assert done.returncode == 0, done.stderr
    assert "notifier: schema at head" in done.stdout
    assert rows(scratch_schema_url, "SELECT COUNT(*) FROM alembic_version") == [(1,)]
