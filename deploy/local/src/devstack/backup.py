"""``devstack backup DEST`` and ``devstack restore SRC``: every service's schema and the bucket.

A backup folder holds

    manifest.json     what was saved, from where, and the sha256 of every file below
    databases.sql     one mysqldump of all six schemas
    objects/ab/<sha256>
                      every object of the bucket, named by the sha256 of its bytes (the
                      manifest maps each key to its bytes, content type and user metadata)

Backup runs while the system is up. The schemas are dumped first, all in ONE transaction
(``mysqldump --single-transaction`` over every schema): one consistent moment across the
services, without locking anything. The bucket is copied after, so that every object the
dump names is there; objects written after that moment come along too, unnamed by any row.

Restore runs with the system stopped. It checks every file against the manifest before it
touches anything, starts what ``make dev`` would start (the local S3 server unless
``DEVSTACK_S3_ENDPOINT`` names one), creates the schemas, users and bucket, refuses if any
schema has a table or the bucket an object, loads the dump into the schemas of the current
configuration (the prefix may differ from the backup's), puts every object back with its
content type and metadata, and stops what it started.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import httpx
from miniopy_async.api import Minio

from devstack.config import SERVICES, StackConfig, mysql_host_port
from devstack.provision import admin_connection
from devstack.stack import Stack

__all__ = ["FORMAT", "BackupError", "backup", "restore", "verify"]

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "databases.sql"
OBJECTS = "objects"
CHUNK = 1 << 20
PARALLEL_UPLOADS = 8
_USE = re.compile(rb"^USE `([^`]+)`;\s*$")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, for the operator."""


# ------------------------------------------------------------------------------- backup


def backup(stack: Stack, dest: Path) -> dict[str, Any]:
    """Dump the schemas, then copy the bucket, into the new or empty folder ``dest``;
    returns the manifest (also written as ``dest/manifest.json``)."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: back up into a new folder")
    config = stack.config
    schemas = {service: config.schema(service) for service in SERVICES}
    missing = [s for s in schemas.values() if not _schema_exists(config, s)]
    if missing:
        raise BackupError(f"no such schema on the server: {', '.join(missing)}")
    if not asyncio.run(_bucket_exists(stack)):
        raise BackupError(f"no bucket {config.bucket!r} on the S3 server")
    dest.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    dump_schemas(config, list(schemas.values()), dest / DUMP)
    objects = asyncio.run(copy_bucket(stack, dest))
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": started.isoformat(),
        "schemas": schemas,
        "bucket": config.bucket,
        "files": {DUMP: _file_entry(dest / DUMP)},
        "objects": objects,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def dump_schemas(config: StackConfig, schemas: list[str], target: Path) -> None:
    """One mysqldump of all ``schemas`` in one transaction (``USE`` lines name them; no
    ``CREATE DATABASE``: restore makes the schemas itself)."""
    with _client_options(config) as options, target.open("wb") as out:
        done = subprocess.run(
            [
                "mysqldump",
                f"--defaults-extra-file={options}",
                "--single-transaction",
                "--quick",
                "--skip-lock-tables",
                "--hex-blob",
                "--no-create-db",
                "--default-character-set=utf8mb4",
                "--databases",
                *schemas,
            ],
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
    if done.returncode != 0:
        raise BackupError(f"mysqldump failed: {done.stderr.decode(errors='replace').strip()}")


async def copy_bucket(stack: Stack, dest: Path) -> list[dict[str, Any]]:
    """Every object into ``dest/objects/`` by the sha256 of its bytes; the manifest entries."""
    bucket = stack.config.bucket
    client = _client(stack)
    partial = dest / OBJECTS / ".partial"
    partial.parent.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    try:
        if not await client.bucket_exists(bucket):
            raise BackupError(f"no bucket {bucket!r} on the S3 server")
        async for item in client.list_objects(bucket, recursive=True):
            key = item.object_name
            if not key or item.is_dir:
                continue
            response = await client.get_object(bucket, key)
            digest, size = hashlib.sha256(), 0
            try:
                with partial.open("wb") as out:
                    async for chunk in response.content.iter_chunked(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
                headers = response.headers
                content_type = headers.get("Content-Type", "application/octet-stream")
                metadata = {
                    name.lower(): value
                    for name, value in headers.items()
                    if name.lower().startswith("x-amz-meta-")
                }
            finally:
                response.release()
            sha256 = digest.hexdigest()
            blob = blob_path(dest, sha256)
            blob.parent.mkdir(parents=True, exist_ok=True)
            partial.replace(blob)  # the same bytes twice: one file
            entries.append(
                {
                    "key": key,
                    "sha256": sha256,
                    "bytes": size,
                    "content_type": content_type,
                    "metadata": metadata,
                }
            )
    finally:
        partial.unlink(missing_ok=True)
        await client.close_session()  # type: ignore[no-untyped-call]
    return entries


# ------------------------------------------------------------------------------- verify


def verify(src: Path) -> dict[str, Any]:
    """The manifest of the backup in ``src``, once every file in it has the size and the
    sha256 the manifest says; else BackupError naming the first that does not."""
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"no {MANIFEST} in {src}: not a backup folder") from None
    except ValueError as exc:
        raise BackupError(f"{src / MANIFEST} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r}; this tool reads {FORMAT}")
    if sorted(manifest.get("schemas", {})) != sorted(SERVICES):
        raise BackupError(f"the backup's schemas are not those of {', '.join(SERVICES)}")
    for name, entry in manifest["files"].items():
        _check(src / name, entry["sha256"], entry["bytes"])
    for entry in manifest["objects"]:
        _check(blob_path(src, entry["sha256"]), entry["sha256"], entry["bytes"], entry["key"])
    return manifest


def _check(path: Path, sha256: str, size: int, key: str | None = None) -> None:
    what = f"{path} (object {key!r})" if key else str(path)
    if not path.is_file():
        raise BackupError(f"{what} is missing")
    found = _file_entry(path)
    if found != {"sha256": sha256, "bytes": size}:
        raise BackupError(f"{what} does not match the manifest (checksum or size differ)")


# ------------------------------------------------------------------------------ restore


def restore(stack: Stack, src: Path) -> dict[str, Any]:
    """Put the backup in ``src`` back where the schemas and the bucket are empty or missing
    (the system stopped); returns its manifest."""
    manifest = verify(src)
    refuse_if_running(stack)
    try:
        stack.start_infrastructure()  # the local S3 server if make dev runs one; schemas, bucket
        refuse_if_not_empty(stack)
        load_schemas(stack.config, src / DUMP, manifest["schemas"])
        asyncio.run(put_objects(stack, src, manifest["objects"]))
    finally:
        stack.stop()
    return manifest


def refuse_if_running(stack: Stack) -> None:
    for name in stack.names():
        try:
            httpx.get(stack.url(name) + "/healthz", timeout=1)
        except httpx.HTTPError:
            continue
        raise BackupError(
            f"{name} answers on {stack.url(name)}: stop the system (make dev) before restoring"
        )


def refuse_if_not_empty(stack: Stack) -> None:
    config = stack.config
    schemas = [config.schema(service) for service in SERVICES]
    connection = admin_connection(config.mysql_admin_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_schema, COUNT(*) FROM information_schema.tables"
                f" WHERE table_schema IN ({', '.join(['%s'] * len(schemas))})"
                " GROUP BY table_schema",
                schemas,
            )
            used = sorted(str(row[0]) for row in cursor.fetchall())
    finally:
        connection.close()
    if used:
        raise BackupError(
            f"schemas not empty: {', '.join(used)}; restore only fills empty or missing "
            "schemas (drop them first if you mean to replace them)"
        )
    if asyncio.run(_bucket_has_objects(stack)):
        raise BackupError(
            f"bucket {config.bucket!r} is not empty; restore only fills an empty or missing bucket"
        )


def load_schemas(config: StackConfig, dump: Path, backed_up: dict[str, str]) -> None:
    """Feed the dump to ``mysql``, each ``USE`` line pointed at this configuration's schema
    of the same service."""
    renamed = {backed_up[service].encode(): config.schema(service).encode() for service in SERVICES}
    with (
        _client_options(config) as options,
        tempfile.TemporaryFile() as errors,
        dump.open("rb") as lines,
    ):
        process = subprocess.Popen(
            ["mysql", f"--defaults-extra-file={options}", "--default-character-set=utf8mb4"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        assert process.stdin is not None
        try:
            for line in lines:
                match = _USE.match(line)
                if match and match.group(1) not in renamed:
                    raise BackupError(f"the dump uses an unknown schema: {line!r}")
                process.stdin.write(b"USE `" + renamed[match.group(1)] + b"`;\n" if match else line)
            process.stdin.close()
        except BrokenPipeError:
            pass  # mysql stopped at an error; its message follows
        finally:
            if process.poll() is None and not process.stdin.closed:
                process.stdin.close()
            process.wait()
        if process.returncode != 0:
            errors.seek(0)
            reason = errors.read().decode(errors="replace").strip()
            raise BackupError(f"loading the dump failed: {reason}")


async def put_objects(stack: Stack, src: Path, entries: list[dict[str, Any]]) -> None:
    client = _client(stack)
    limit = asyncio.Semaphore(PARALLEL_UPLOADS)

    async def put(entry: dict[str, Any]) -> None:
        async with limit:
            await client.fput_object(
                stack.config.bucket,
                entry["key"],
                str(blob_path(src, entry["sha256"])),
                content_type=entry["content_type"],
                metadata=entry["metadata"] or None,
            )

    try:
        await asyncio.gather(*(put(entry) for entry in entries))
    finally:
        await client.close_session()  # type: ignore[no-untyped-call]


# ------------------------------------------------------------------------------ helpers


def blob_path(root: Path, sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise BackupError(f"not a sha256 in the manifest: {sha256!r}")
    return root / OBJECTS / sha256[:2] / sha256


def _file_entry(path: Path) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as data:
        while block := data.read(CHUNK):
            digest.update(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "bytes": size}


def _client(stack: Stack) -> Minio:
    endpoint, access, secret = stack.s3_credentials()
    return Minio(endpoint, access_key=access, secret_key=secret, secure=False)


async def _bucket_exists(stack: Stack) -> bool:
    client = _client(stack)
    try:
        return bool(await client.bucket_exists(stack.config.bucket))
    except aiohttp.ClientError as exc:
        endpoint = stack.s3_credentials()[0]
        raise BackupError(f"cannot reach the S3 server at {endpoint}: {exc}") from exc
    finally:
        await client.close_session()  # type: ignore[no-untyped-call]


async def _bucket_has_objects(stack: Stack) -> bool:
    client = _client(stack)
    try:
        if not await client.bucket_exists(stack.config.bucket):
            return False
        async for _ in client.list_objects(stack.config.bucket, recursive=True):
            return True
        return False
    finally:
        await client.close_session()  # type: ignore[no-untyped-call]


def _schema_exists(config: StackConfig, schema: str) -> bool:
    connection = admin_connection(config.mysql_admin_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,)
            )
            return cursor.fetchone() is not None
    finally:
        connection.close()


@contextmanager
def _client_options(config: StackConfig) -> Iterator[str]:
    """An options file for mysql/mysqldump with the admin login (the password never on a
    command line), readable by us only, deleted afterwards."""
    parts = urlsplit(config.mysql_admin_url)
    host, port = mysql_host_port(config.mysql_admin_url)
    lines = ["[client]", f"host={host}", f"port={port}", "protocol=TCP"]
    lines.append(f"user={unquote(parts.username or 'root')}")
    if parts.password:
        quoted = unquote(parts.password).replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'password="{quoted}"')
    descriptor, name = tempfile.mkstemp(prefix="devstack-mysql-", suffix=".cnf")
    try:
        with os.fdopen(descriptor, "w") as options:  # mkstemp: mode 0600
            options.write("\n".join(lines) + "\n")
        yield name
    finally:
        os.unlink(name)
