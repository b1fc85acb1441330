"""Bounded strings, one definition for the contracts and the services that keep them.

Every string a service writes from a contract into a VARCHAR column is bounded here at most
at that column's length, so a message the contract accepts always fits where it is kept:
too long an identifier (an engine, a file name, an object key) is refused with the rest of
the message, before any service works on it; prose for people (a reason, an error) is cut
to fit instead, so that no producer fails over the wording of a message.
``libs/contracts/tests/test_lengths.py`` holds these bounds against the services' tables.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, StringConstraints

__all__ = [
    "CORRELATION_ID_MAX_LENGTH",
    "EMAIL_MAX_LENGTH",
    "ENGINE_NAME_MAX_LENGTH",
    "FILE_NAME_MAX_LENGTH",
    "LANGUAGE_CODE_MAX_LENGTH",
    "MESSAGE_MAX_LENGTH",
    "MONTH_PATTERN",
    "OBJECT_KEY_MAX_LENGTH",
    "PLAN_NAME_MAX_LENGTH",
    "SHA256_HEX_LENGTH",
    "CorrelationId",
    "EmailAddress",
    "EngineName",
    "FileName",
    "LanguageCode",
    "Message",
    "Month",
    "ObjectKey",
    "PlanName",
    "Sha256Hex",
    "clip",
]

ENGINE_NAME_MAX_LENGTH = 64  # alignment_runs.engine (aligner), jobs.engine (gateway)
LANGUAGE_CODE_MAX_LENGTH = 16  # jobs.language (gateway); its codes are 12 at most
FILE_NAME_MAX_LENGTH = 512  # job_files (gateway) and corpus_files (storage): stem and names
OBJECT_KEY_MAX_LENGTH = 512  # expirations.object_key (janitor), job_files.audio_key (gateway)
SHA256_HEX_LENGTH = 64  # file_storage_metadata.sha256 (storage)
MESSAGE_MAX_LENGTH = 1000  # jobs.error and job_files.error (gateway)
PLAN_NAME_MAX_LENGTH = 32  # users.subscription, subscription_types.name (auth)
EMAIL_MAX_LENGTH = 320  # users.email (auth)
CORRELATION_ID_MAX_LENGTH = 128  # outbox.correlation_id (every service)
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"  # usage.month (auth)

EngineName = Annotated[str, StringConstraints(max_length=ENGINE_NAME_MAX_LENGTH)]
LanguageCode = Annotated[str, StringConstraints(max_length=LANGUAGE_CODE_MAX_LENGTH)]
FileName = Annotated[str, StringConstraints(max_length=FILE_NAME_MAX_LENGTH)]
"""A file name as uploaded (the gateway cuts longer ones), or its stem."""
ObjectKey = Annotated[str, StringConstraints(max_length=OBJECT_KEY_MAX_LENGTH)]
Sha256Hex = Annotated[str, StringConstraints(max_length=SHA256_HEX_LENGTH)]
"""A SHA-256 digest in hex (64 characters)."""
PlanName = Annotated[str, StringConstraints(max_length=PLAN_NAME_MAX_LENGTH)]
EmailAddress = Annotated[str, StringConstraints(max_length=EMAIL_MAX_LENGTH)]
"""An address as stored (see the RPC requests for the ones that are validated)."""
CorrelationId = Annotated[str, StringConstraints(max_length=CORRELATION_ID_MAX_LENGTH)]
Month = Annotated[str, StringConstraints(min_length=7, max_length=7, pattern=MONTH_PATTERN)]
"""A calendar month, YYYY-MM (UTC)."""


def clip(text: str, limit: int = MESSAGE_MAX_LENGTH) -> str:
    """``text`` cut to ``limit`` characters, the last of them an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_str(value: object) -> object:
    return clip(value) if isinstance(value, str) else value


Message = Annotated[
    str, StringConstraints(max_length=MESSAGE_MAX_LENGTH), BeforeValidator(_clip_str)
]
"""Prose for people (why a file was refused, why an alignment failed): longer text is cut to
fit, with an ellipsis, rather than refused."""
