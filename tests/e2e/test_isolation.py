"""Each service's MySQL user reaches its own schema and nothing else."""

from __future__ import annotations

import pymysql
import pytest

from devstack import SERVICES, Stack
from devstack.config import mysql_host_port

pytestmark = pytest.mark.e2e


def connect_as(stack: Stack, service: str) -> pymysql.connections.Connection:  # type: ignore[type-arg]
    host, port = mysql_host_port(stack.config.mysql_admin_url)
    return pymysql.connect(
        host=host,
        port=port,
        user=stack.config.schema(service),
        password=stack.secrets.db_passwords[service],
    )


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
