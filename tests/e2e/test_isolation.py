"""Each service's MySQL user reaches its own schema and nothing else."""

from __future__ import annotations

import time

import httpx
import pymysql
import pytest

from devstack import SERVICES, Stack
from tests.e2e.helpers import connect_as

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reads_its_own_schema_but_no_other(stack: Stack, service: str) -> None:
    connection = connect_as(stack, service)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM `{stack.config.schema(service)}`.outbox")
            assert cursor.fetchone() is not None
            for other in SERVICES:
                if other == service:
                    continue
                with pytest.raises(pymysql.err.OperationalError) as refused:
                    cursor.execute(f"SELECT COUNT(*) FROM `{stack.config.schema(other)}`.outbox")
                assert refused.value.args[0] == 1142  # SELECT command denied
            cursor.execute("SHOW DATABASES")
            visible = {row[0] for row in cursor.fetchall()}
            assert visible == {stack.config.schema(service), "information_schema"}
    finally:
        connection.close()


def test_registration_publishes_user_registered_through_the_outbox(stack: Stack) -> None:
    email = f"outbox-{time.time_ns()}@example.org"
    response = httpx.post(
        stack.url("gateway") + "/api/v1/auth/register",
        json={"email": email, "password": "correct horse battery"},
        timeout=15,
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    connection = connect_as(stack, "auth")
    try:
        deadline = time.monotonic() + 15
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT body, published_at FROM outbox WHERE routing_key = %s AND body LIKE %s",
                    ("user.registered.v1", f"%{user_id}%"),
                )
                rows = cursor.fetchall()
            connection.commit()  # a fresh snapshot on the next read
            if (rows and rows[0][1] is not None) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(rows) == 1, "exactly one UserRegistered event"
        assert rows[0][1] is not None, "the relay published it"
        assert email not in rows[0][0], "events carry ids, not email addresses"
    finally:
        connection.close()
