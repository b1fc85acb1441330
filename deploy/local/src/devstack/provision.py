"""Creates (or drops) each service's MySQL schema and user, and the S3 bucket."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote, urlsplit

import pymysql
from miniopy_async.api import Minio

from devstack.config import SERVICES, Secrets, StackConfig

__all__ = ["drop_databases", "ensure_bucket", "provision_databases", "remove_bucket"]

# The server skips name resolution, so TCP logins match 127.0.0.1; socket logins, localhost.
USER_HOSTS = ("127.0.0.1", "localhost")


def admin_connection(admin_url: str) -> pymysql.connections.Connection:  # type: ignore[type-arg]
    parts = urlsplit(admin_url)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        autocommit=True,
    )


def provision_databases(config: StackConfig, secrets: Secrets) -> None:
    """One schema and one user per service; the user can touch nothing else."""
    connection = admin_connection(config.mysql_admin_url)
    try:
        with connection.cursor() as cursor:
            for service in SERVICES:
                schema = config.schema(service)
                password = secrets.db_passwords[service]
                cursor.execute(
                    f"CREATE DATABASE IF NOT EXISTS `{schema}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
                for host in USER_HOSTS:
                    cursor.execute(
                        f"CREATE USER IF NOT EXISTS '{schema}'@'{host}' IDENTIFIED BY %s",
                        (password,),
                    )
                    cursor.execute(f"ALTER USER '{schema}'@'{host}' IDENTIFIED BY %s", (password,))
                    cursor.execute(f"GRANT ALL PRIVILEGES ON `{schema}`.* TO '{schema}'@'{host}'")
    finally:
        connection.close()


def drop_databases(config: StackConfig) -> None:
    connection = admin_connection(config.mysql_admin_url)
    try:
        with connection.cursor() as cursor:
            for service in SERVICES:
                schema = config.schema(service)
                cursor.execute(f"DROP DATABASE IF EXISTS `{schema}`")
                for host in USER_HOSTS:
                    cursor.execute(f"DROP USER IF EXISTS '{schema}'@'{host}'")
    finally:
        connection.close()


def ensure_bucket(endpoint: str, access_key: str, secret_key: str, bucket: str) -> None:
    async def create() -> None:
        client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=False)
        try:
            if not await client.bucket_exists(bucket):
                await client.make_bucket(bucket)
        finally:
            await client.close_session()  # type: ignore[no-untyped-call]

    asyncio.run(create())


def remove_bucket(endpoint: str, access_key: str, secret_key: str, bucket: str) -> None:
    """Delete every object, then the bucket (``remove_objects`` is lazy: iterate it)."""
    from miniopy_async.deleteobjects import DeleteObject

    async def remove() -> None:
        client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=False)
        try:
            if not await client.bucket_exists(bucket):
                return
            names = [o.object_name async for o in client.list_objects(bucket, recursive=True)]
            async for error in client.remove_objects(bucket, [DeleteObject(n) for n in names if n]):
                raise RuntimeError(f"could not delete {error}")
            await client.remove_bucket(bucket)
        finally:
            await client.close_session()  # type: ignore[no-untyped-call]

    asyncio.run(remove())
