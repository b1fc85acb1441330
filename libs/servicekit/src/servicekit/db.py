"""One way to reach a service's own MySQL schema: an async engine and its sessions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Text, text
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = ["Database", "LongText", "Timestamp", "utc_naive_now"]

# Microsecond timestamps (MySQL's plain DATETIME drops them) and text without a 64 KiB cap.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

CONNECT_TIMEOUT_SECONDS = 2
POOL_TIMEOUT_SECONDS = 10


def utc_naive_now() -> datetime:
    # MySQL DATETIME has no zone and silently drops one: store naive UTC everywhere.
    return datetime.now(UTC).replace(tzinfo=None)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_pre_ping=True,
            pool_recycle=1800,
            # An unreachable server fails a request in seconds (a 503), not after a minute.
            pool_timeout=POOL_TIMEOUT_SECONDS,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
            echo=echo,
        )
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    async def ping(self) -> bool:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
