"""What the end-to-end tests do over and over: users, uploads, polling, S3 listings."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pymysql
from miniopy_async.api import Minio

from devstack import Stack
from devstack.config import mysql_host_port

EVAL = Path(
    os.environ.get("ALIGNMENT_EVAL_DIR")
    or Path(__file__).resolve().parents[3] / "shared" / "data" / "alignment-eval"
)
FINISHED = {"COMPLETED", "FAILED", "EXPIRED", "CANCELLED"}


@dataclass
class User:
    id: str
    email: str
    client: httpx.Client  # authenticated, base URL /api/v1


def new_user(stack: Stack) -> User:
    email = f"user-{secrets.token_hex(5)}@example.org"
    base = stack.url("gateway") + "/api/v1"
    password = "correct horse battery"
    created = httpx.post(f"{base}/auth/register", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    login = httpx.post(f"{base}/auth/login", json={"email": email, "password": password})
    token = login.json()["access_token"]
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return User(created.json()["id"], email, client)


def pair_files(*pairs: tuple[str, bytes, str, bytes]) -> list[tuple[str, tuple[str, bytes]]]:
    files: list[tuple[str, tuple[str, bytes]]] = []
    for audio_name, audio, text_name, text in pairs:
        files.append(("audio_files[]", (audio_name, audio)))
        files.append(("text_files[]", (text_name, text)))
    return files


def eval_pair(name: str) -> tuple[str, bytes, str, bytes]:
    """A pair from the shared evaluation set, e.g. 'timit/dr4-falr0_sx65'."""
    base = EVAL / name
    stem = base.name
    return (
        f"{stem}.wav",
        base.with_suffix(".wav").read_bytes(),
        f"{stem}.txt",
        base.with_suffix(".txt").read_bytes(),
    )


def submit(user: User, *pairs: tuple[str, bytes, str, bytes], **data: str) -> httpx.Response:
    return user.client.post("/alignment/", files=pair_files(*pairs), data=data)


def wait_for(
    user: User, job_id: str, timeout: float = 120, done: set[str] = FINISHED
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = user.client.get(f"/alignment/{job_id}").json()
        if job["status"] in done:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {job['status']} after {timeout} s: {job}")
        time.sleep(0.2)


def eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Wait for what other services do on hearing an event; ``what`` says what never came."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def usage(user: User) -> dict[str, Any]:
    """The user's usage from /users/quota."""
    found: dict[str, Any] = user.client.get("/users/quota").json()["usage"]
    return found


def counted_usage(user: User) -> dict[str, Any]:
    """The usage once auth has counted the user's stored files (it learns of them by event)."""
    eventually(lambda: usage(user)["storage_bytes_used"] > 0, "the stored files never counted", 10)
    return usage(user)


def object_keys(stack: Stack, prefix: str) -> list[str]:
    endpoint, access, secret = stack.s3_credentials()

    async def listing() -> list[str]:
        client = Minio(endpoint, access_key=access, secret_key=secret, secure=False)
        try:
            return [
                o.object_name
                async for o in client.list_objects(
                    stack.config.bucket, prefix=prefix, recursive=True
                )
                if o.object_name
            ]
        finally:
            await client.close_session()  # type: ignore[no-untyped-call]

    return asyncio.run(listing())


def connect_as(stack: Stack, service: str) -> pymysql.connections.Connection:  # type: ignore[type-arg]
    """A connection with the service's own MySQL user, on its own schema."""
    host, port = mysql_host_port(stack.config.mysql_admin_url)
    return pymysql.connect(
        host=host,
        port=port,
        user=stack.config.schema(service),
        password=stack.secrets.db_passwords[service],
        database=stack.config.schema(service),
        autocommit=True,
    )


def query(stack: Stack, service: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    connection = connect_as(stack, service)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
    finally:
        connection.close()


def add_plan(stack: Stack, name: str, **limits: int) -> None:
    """An operator's plan, written straight into auth's schema (as an operator would)."""
    values = {
        "storage_bytes": 2**30,
        "audio_minutes_per_month": 100,
        "max_file_bytes": 2**26,
        "max_files_per_job": 10,
        "max_concurrent_jobs": 5,
        "retention_days": 3,
        "queue_priority": 1,
    } | limits
    query(
        stack,
        "auth",
        "INSERT INTO subscription_types (name, storage_bytes, audio_minutes_per_month,"
        " max_file_bytes, max_files_per_job, max_concurrent_jobs, retention_days,"
        " queue_priority, is_admin) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0)",
        name,
        *values.values(),
    )


def set_plan(stack: Stack, email: str, plan: str) -> subprocess.CompletedProcess[str]:
    return auth_command(stack, "set-subscription", email, plan)


def auth_command(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """The operator's CLI (``auth ...``), with the stack's auth settings."""
    return subprocess.run(
        [sys.executable, "-m", "auth_service", *args],
        env=stack.env("auth"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def user_on_plan(stack: Stack, **limits: int) -> User:
    user = new_user(stack)
    plan = f"t{uuid.uuid4().hex[:12]}"
    add_plan(stack, plan, **limits)
    done = set_plan(stack, user.email, plan)
    assert done.returncode == 0, done.stderr
    return user


def files_stored_event(stack: Stack, job_id: str) -> tuple[str, datetime]:
    """The id and time of storage's FilesStored for the job (from storage's outbox)."""
    rows = query(
        stack,
        "storage",
        "SELECT event_id, created_at, body FROM outbox WHERE routing_key = 'files.stored.v1'",
    )
    [found] = [(e, at) for e, at, body in rows if json.loads(body)["payload"]["job_id"] == job_id]
    return found
