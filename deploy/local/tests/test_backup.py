"""devstack.backup's parts without a stack: the manifest check, and the dump loaded into
schemas of another prefix (real MariaDB; the whole round trip is
tests/e2e/test_backup_restore.py)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.backup import FORMAT, BackupError, dump_schemas, load_schemas, verify
from devstack.config import SERVICES, StackConfig
from devstack.provision import admin_connection


def small_backup(folder: Path) -> Path:
    """A backup folder by hand: a dump and one object, with their manifest."""
    folder.mkdir()
    (folder / "databases.sql").write_bytes(b"-- nothing\n")
    blob = b"hello"
    sha = hashlib.sha256(blob).hexdigest()
    (folder / "objects" / sha[:2]).mkdir(parents=True)
    (folder / "objects" / sha[:2] / sha).write_bytes(blob)
    manifest = {
        "format": FORMAT,
        "created_at": "2026-11-30T00:00:00+00:00",
        "schemas": {service: service for service in SERVICES},
        "bucket": "alignment",
        "files": {
            "databases.sql": {
                "sha256": hashlib.sha256(b"-- nothing\n").hexdigest(),
                "bytes": 11,
            }
        },
        "objects": [{"key": "u/results/a.json", "sha256": sha, "bytes": 5, "content_type": "x/y"}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder / "objects" / sha[:2] / sha


def test_a_whole_backup_passes_its_check(tmp_path: Path) -> None:
    small_backup(tmp_path / "b")
    assert verify(tmp_path / "b")["bucket"] == "alignment"


def test_a_changed_missing_or_foreign_file_is_refused(tmp_path: Path) -> None:
    blob = small_backup(tmp_path / "b")
    blob.write_bytes(b"hellO")
    with pytest.raises(BackupError, match=r"object 'u/results/a.json'.*does not match"):
        verify(tmp_path / "b")
    blob.unlink()
    with pytest.raises(BackupError, match="is missing"):
        verify(tmp_path / "b")
    with pytest.raises(BackupError, match="not a backup folder"):
        verify(tmp_path)
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(manifest | {"format": 99}))
    with pytest.raises(BackupError, match="format 99"):
        verify(tmp_path / "b")


@pytest.fixture
def two_prefixes(mysql_admin_url: str) -> Iterator[tuple[str, str]]:
    prefixes = ("t" + secrets.token_hex(3) + "_", "t" + secrets.token_hex(3) + "_")
    yield prefixes
    admin = admin_connection(mysql_admin_url)
    with admin.cursor() as cursor:
        for prefix in prefixes:
            for service in SERVICES:
                cursor.execute(f"DROP DATABASE IF EXISTS `{prefix}{service}`")
    admin.close()


def test_the_dump_loads_into_the_schemas_of_another_prefix(
    mysql_admin_url: str, two_prefixes: tuple[str, str], tmp_path: Path
) -> None:
    old, new = (
        StackConfig(state_dir=tmp_path, mysql_admin_url=mysql_admin_url, db_prefix=prefix)
        for prefix in two_prefixes
    )
    admin = admin_connection(mysql_admin_url)
    with admin.cursor() as cursor:
        for service in SERVICES:
            cursor.execute(f"CREATE DATABASE `{old.schema(service)}`")
            cursor.execute(f"CREATE DATABASE `{new.schema(service)}`")
            cursor.execute(f"CREATE TABLE `{old.schema(service)}`.t (v VARCHAR(20))")
            cursor.execute(f"INSERT INTO `{old.schema(service)}`.t VALUES (%s)", (service,))
    dump = tmp_path / "databases.sql"
    dump_schemas(old, [old.schema(s) for s in SERVICES], dump)
    load_schemas(new, dump, {s: old.schema(s) for s in SERVICES})
    with admin.cursor() as cursor:
        for service in SERVICES:
            cursor.execute(f"SELECT v FROM `{new.schema(service)}`.t")
            assert cursor.fetchall() == ((service,),)
    admin.close()
