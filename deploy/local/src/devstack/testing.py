"""pytest fixtures for real infrastructure, loaded by the repo's pytest config.

Addresses come from the environment (what ``.ci/run`` sets):
``TEST_MYSQL_URL`` (an admin URL, e.g. ``mysql://root@127.0.0.1:3306``), ``TEST_AMQP_URL``,
``TEST_S3_ENDPOINT`` with ``TEST_S3_ACCESS_KEY``/``TEST_S3_SECRET_KEY``. Where one is not
set: a container if a Docker engine answers, else the local default if it answers, else the
test is skipped with the reason. Without ``TEST_S3_ENDPOINT`` we run SeaweedFS ourselves.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devstack.config import DEFAULT_PORTS, StackConfig
from devstack.provision import admin_connection
from devstack.s3server import S3Server
from devstack.stack import Stack

LOCAL_MYSQL = "mysql://root@127.0.0.1:3306"
LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
TEST_MAX_FILE_BYTES = 8 * 2**20


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
    except Exception:  # no engine, no socket, no permission: all mean "no Docker here"
        return False
    return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """For tests that call configure_logging, which replaces the root logger's handlers:
    pytest's are put back afterwards and the test's own closed."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers, root.level = handlers, level


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_block() -> int:
    """A base port P with P..P+4 and their gRPC twins (+10000) free, for SeaweedFS."""
    for _ in range(200):
        base = 20000 + secrets.randbelow(9000)
        ports = [base + i for i in range(5)] + [base + 10000 + i for i in range(5)]
        if all(_port_free(p) for p in ports):
            return base
    raise RuntimeError("no free block of ports for the S3 server")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Infrastructure:
    mysql_admin_url: str
    amqp_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str


@pytest.fixture(scope="session")
def mysql_admin_url() -> Iterator[str]:
    url = os.environ.get("TEST_MYSQL_URL")
    if url:
        yield url
    elif _docker_answers():
        from testcontainers.mysql import MySqlContainer

        with MySqlContainer("mariadb:10.11", username="root", password="test") as container:
            yield f"mysql://root:test@{container.get_container_host_ip()}:{container.get_exposed_port(3306)}"
    elif _answers(LOCAL_MYSQL, 3306):
        yield LOCAL_MYSQL
    else:
        pytest.skip("no MySQL: set TEST_MYSQL_URL")


@pytest.fixture
def scratch_schema_url(mysql_admin_url: str) -> Iterator[str]:
    """An empty schema of its own (``mysql+aiomysql://...``), dropped after the test."""
    parts = urlsplit(mysql_admin_url)
    name = "t" + secrets.token_hex(4) + "_scratch"
    admin = admin_connection(mysql_admin_url)
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    credentials = (parts.username or "root") + (f":{parts.password}" if parts.password else "")
    try:
        yield f"mysql+aiomysql://{credentials}@{parts.hostname}:{parts.port or 3306}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE `{name}`")
        admin.close()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    url = os.environ.get("TEST_AMQP_URL")
    if url:
        yield url
    elif _docker_answers():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.13-management") as container:
            params = container.get_connection_params()
            yield f"amqp://guest:guest@{params.host}:{params.port}/"
    elif _answers(LOCAL_AMQP, 5672):
        yield LOCAL_AMQP
    else:
        pytest.skip("no RabbitMQ: set TEST_AMQP_URL")


@pytest.fixture(scope="session")
def infrastructure(
    mysql_admin_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Infrastructure]:
    endpoint = os.environ.get("TEST_S3_ENDPOINT")
    if endpoint:
        yield Infrastructure(
            mysql_admin_url,
            amqp_url,
            endpoint,
            os.environ.get("TEST_S3_ACCESS_KEY", ""),
            os.environ.get("TEST_S3_SECRET_KEY", ""),
        )
        return
    access, secret = "test" + secrets.token_hex(6), secrets.token_urlsafe(24)
    server = S3Server(tmp_path_factory.mktemp("s3"), free_port_block(), access, secret)
    server.start()
    try:
        yield Infrastructure(mysql_admin_url, amqp_url, server.endpoint, access, secret)
    finally:
        server.stop()


def free_ports(names: list[str]) -> dict[str, int]:
    """A free port for each name, no two the same."""
    ports: dict[str, int] = {}
    while len(ports) < len(names):
        port = free_port()
        if port not in ports.values():
            ports[names[len(ports)]] = port
    return ports


def isolated_stack_config(
    infrastructure: Infrastructure, state_dir: Path, *, aligner_replicas: int = 1
) -> StackConfig:
    """A stack isolated from any other on this machine: its own schema names, queue
    namespace, bucket and ports. ``aligner_replicas``: that many aligner processes
    (``stack.aligner_names()``: "aligner", "aligner-2"...), each on its own port."""
    run_id = "t" + secrets.token_hex(4)
    replicas = [f"aligner-{i}" for i in range(2, aligner_replicas + 1)]
    return StackConfig(
        state_dir=state_dir,
        mysql_admin_url=infrastructure.mysql_admin_url,
        amqp_url=infrastructure.amqp_url,
        namespace=run_id,
        db_prefix=run_id + "_",
        ports=free_ports([*DEFAULT_PORTS, *replicas]),
        aligner_replicas=aligner_replicas,
        s3_endpoint=infrastructure.s3_endpoint,
        s3_access_key=infrastructure.s3_access_key,
        s3_secret_key=infrastructure.s3_secret_key,
        bucket=run_id,
        environment="test",
        # Small enough that a test can cross it without uploading gigabytes.
        extra_env={
            "gateway": {
                "GATEWAY_MAX_FILE_BYTES": str(TEST_MAX_FILE_BYTES),
                # Every test user signs up from 127.0.0.1; the per-email login limit stays.
                "GATEWAY_RATE_LIMITS__REGISTER_PER_IP": "10000/minute",
                "GATEWAY_RATE_LIMITS__LOGIN_PER_IP": "10000/minute",
            },
            # Webhook retries within seconds, not minutes.
            "notifier": {
                "NOTIFIER_RETRY_BASE_SECONDS": "0.5",
                "NOTIFIER_POLL_SECONDS": "0.2",
            },
        },
    )


@contextmanager
def running_stack(config: StackConfig) -> Iterator[Stack]:
    """Started, then stopped and removed (schemas, queues, bucket) whatever happens."""
    stack = Stack(config)
    try:
        stack.start()
        yield stack
    finally:
        stack.destroy()
        print(f"\nservice logs of this run: {config.logs_dir}")


@pytest.fixture(scope="session")
def stack(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The whole platform as processes, removed afterwards."""
    config = isolated_stack_config(infrastructure, Path(tmp_path_factory.mktemp("stack")))
    with running_stack(config) as stack:
        yield stack
