"""Failure kinds the kit routes differently."""

from __future__ import annotations

import aiohttp
import aiormq.exceptions
import pymysql.err
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

__all__ = [
    "UNAVAILABLE_KINDS",
    "DomainError",
    "PermanentFailure",
    "Unavailable",
    "is_unavailable",
    "validation_errors",
]

# MySQL client errors that mean "the server is not there" rather than "the query is wrong":
# can't connect (2002, 2003), unknown host (2005), gone away (2006), lost connection (2013,
# 2055).
MYSQL_CONNECTION_ERRORS = frozenset({2002, 2003, 2005, 2006, 2013, 2055})


class PermanentFailure(Exception):
    """Retrying cannot help (the message itself is wrong): dead-letter it at once."""


class DomainError(Exception):
    """A refusal written for users: a stable ``code`` and a readable ``message``.

    Subclasses set ``code``; the edges map it to an HTTP status or an RPC error.
    """

    code: str = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def validation_errors(exc: ValidationError) -> list[dict[str, object]]:
    """Where and why a message was invalid, never its contents (it may hold passwords)."""
    return [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors(include_input=False)]


class Unavailable(Exception):
    """A part the work needs (another service, the broker, the database, S3) is away:
    retry later; the request or message itself is not at fault."""


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says a dependency is unreachable, not that the
    work failed: such a failure is no attempt, and answers 503 at the edge."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _unavailable(current):
            return True
        current = current.__cause__ or current.__context__
    return False


# The exception types under which an unreachable dependency surfaces (see is_unavailable).
UNAVAILABLE_KINDS: tuple[type[Exception], ...] = (
    Unavailable,
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    pymysql.err.Error,
    OSError,  # ConnectionError, TimeoutError
    aiohttp.ClientError,
    aiormq.exceptions.AMQPError,
)


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, pymysql.err.OperationalError | pymysql.err.InterfaceError):
        code = exc.args[0] if exc.args else None
        return isinstance(exc, pymysql.err.InterfaceError) or code in MYSQL_CONNECTION_ERRORS
    return isinstance(
        exc,
        Unavailable
        | sa_exc.TimeoutError  # no pooled connection came free in time
        | ConnectionError
        | TimeoutError
        | aiohttp.ClientConnectionError
        | aiormq.exceptions.AMQPConnectionError
        | aiormq.exceptions.ChannelInvalidStateError,
    )
