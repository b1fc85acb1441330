"""Alembic helpers: every service applies its own history to its own schema at start.

Several replicas of a service may start at once (``docker compose up --scale``, a rollout):
on MySQL/MariaDB the upgrade runs under a named lock of the schema (``GET_LOCK``), so one
process migrates while the others wait, then find the schema at head and do nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import create_async_engine

__all__ = [
    "MIGRATION_LOCK_TIMEOUT_SECONDS",
    "TIMESTAMP",
    "MigrationLockTimeout",
    "add_inbox_pruning_index_v2",
    "add_outbox_trace_context_v3",
    "create_kit_tables_v1",
    "drop_inbox_pruning_index_v2",
    "drop_outbox_trace_context_v3",
    "run_alembic_env",
    "schema_lock",
    "upgrade_to_head",
]

# For migrations: microsecond DATETIME on MySQL/MariaDB (frozen here, unlike the live models).
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

# How long a starting replica waits for another one's upgrade before giving up.
MIGRATION_LOCK_TIMEOUT_SECONDS = 600


class MigrationLockTimeout(RuntimeError):
    """Another process held the schema's migration lock for too long."""


def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    # Passed as an attribute, not an ini option: ini interpolation would mangle '%' in passwords.
    config.attributes["url"] = url
    return config


def upgrade_to_head(migrations_dir: Path, url: str) -> None:
    command.upgrade(alembic_config(migrations_dir, url), "head")


def run_alembic_env(target_metadata: list[MetaData], default_url: str) -> None:
    """The whole body of a service's ``env.py`` (online, async, per-schema version table)."""
    url = context.config.attributes.get("url") or default_url

    def migrate(connection: Connection) -> None:
        with schema_lock(connection):
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run())


@contextmanager
def schema_lock(
    connection: Connection, timeout: float = MIGRATION_LOCK_TIMEOUT_SECONDS
) -> Iterator[None]:
    """The schema's migration lock (MySQL/MariaDB ``GET_LOCK``, held by this session) for
    the duration of the block; elsewhere (SQLite) nothing. The lock is taken and released
    outside Alembic's transaction: the read of ``alembic_version`` that follows the wait
    then sees what the process that held the lock committed."""
    if connection.dialect.name not in {"mysql", "mariadb"}:
        yield
        return
    schema = connection.execute(sa.text("SELECT DATABASE()")).scalar()
    name = f"alembic.{schema}"[:64]  # the server's limit on lock names
    got = connection.execute(
        sa.text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": timeout}
    ).scalar()
    connection.commit()  # end the implicit transaction; the lock belongs to the session
    if got != 1:
        raise MigrationLockTimeout(
            f"another process kept the migration lock {name!r} for over {timeout:.0f} s"
        )
    try:
        yield
    finally:
        connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        connection.commit()


def create_kit_tables_v1() -> None:
    """The outbox and inbox tables as of kit v1; call from a service's first migration."""
    timestamp = TIMESTAMP
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("routing_key", sa.String(128), nullable=False),
        sa.Column("correlation_id", sa.String(128), nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=True),
        sa.Column(
            "body", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False
        ),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("published_at", timestamp, nullable=True, index=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("processed_at", timestamp, nullable=False),
    )


def add_inbox_pruning_index_v2() -> None:
    """Kit v2: ``inbox.processed_at`` indexed, so that pruning old rows
    (``servicekit.retention``) reads only them. Call from a service's migration."""
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])


def drop_inbox_pruning_index_v2() -> None:
    op.drop_index("ix_inbox_processed_at", table_name="inbox")


def add_outbox_trace_context_v3() -> None:
    """Kit v3: ``outbox.trace_context``, the W3C trace context current when an event was
    recorded, which the relay's publish continues (servicekit.tracing). Nullable: rows
    written before, or with tracing off, have none. Call from a service's migration."""
    op.add_column("outbox", sa.Column("trace_context", sa.String(1000), nullable=True))


def drop_outbox_trace_context_v3() -> None:
    op.drop_column("outbox", "trace_context")
