"""The event envelope every message on the events exchange travels in.

The version is part of both the type and the routing key (``files.stored.v1``): a breaking
change is a new payload class with ``VERSION = 2`` published beside the old one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Self, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.strings import CORRELATION_ID_MAX_LENGTH

__all__ = ["Envelope", "Event", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every event payload: a fact, named in the past tense."""

    # Unknown fields are ignored so that producers can add fields before consumers move.
    model_config = ConfigDict(frozen=True, extra="ignore")

    EVENT_TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    @classmethod
    def routing_key(cls) -> str:
        return f"{cls.EVENT_TYPE}.v{cls.VERSION}"


PayloadT = TypeVar("PayloadT", bound=Event)


class Envelope(BaseModel, Generic[PayloadT]):
    """Metadata around a payload; ``event_id`` is the consumers' idempotency key."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID = Field(default_factory=uuid4)
    event_type: str = Field(max_length=64)
    version: int
    occurred_at: datetime = Field(default_factory=utc_now)
    correlation_id: str = Field(min_length=1, max_length=CORRELATION_ID_MAX_LENGTH)
    producer: str = Field(min_length=1, max_length=64)
    payload: PayloadT

    @classmethod
    def wrap(cls, payload: PayloadT, *, producer: str, correlation_id: str) -> Envelope[PayloadT]:
        typed_envelope: Any = Envelope[type(payload)]  # type: ignore[misc]
        return typed_envelope(  # type: ignore[no-any-return]
            event_type=payload.EVENT_TYPE,
            version=payload.VERSION,
            correlation_id=correlation_id,
            producer=producer,
            payload=payload,
        )

    @model_validator(mode="after")
    def _type_matches_payload(self) -> Self:
        payload_cls = type(self.payload)
        if payload_cls is not Event and (
            self.event_type != payload_cls.EVENT_TYPE or self.version != payload_cls.VERSION
        ):
            raise ValueError(
                f"envelope says {self.event_type}.v{self.version} "
                f"but carries {payload_cls.routing_key()}"
            )
        return self

    @property
    def routing_key(self) -> str:
        return f"{self.event_type}.v{self.version}"

    def log_context(self) -> dict[str, Any]:
        """The identifiers every log line about this event carries."""
        return {
            "correlation_id": self.correlation_id,
            "event_id": str(self.event_id),
            "event_type": self.routing_key,
            "job_id": _str_or_none(getattr(self.payload, "job_id", None)),
            "user_id": _str_or_none(getattr(self.payload, "user_id", None)),
        }


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
