"""Failure kinds the kit routes differently."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["DomainError", "PermanentFailure", "validation_errors"]


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
