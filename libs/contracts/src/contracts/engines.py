"""What the aligners can do: each replica announces its engines (at start, then
periodically), so that the gateway can say which languages and engines exist and refuse a
job that none of them could align."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from contracts.envelope import Event
from contracts.strings import EngineName, LanguageCode, Message

__all__ = [
    "WORKER_NAME_MAX_LENGTH",
    "AccuracyFigure",
    "EngineOffer",
    "EnginesAnnounced",
    "LanguageInfo",
    "language_matches",
]

WORKER_NAME_MAX_LENGTH = 64  # alignment_files.worker (aligner), engine_offers.worker (gateway)
LABEL_MAX_LENGTH = 200

Label = Annotated[str, StringConstraints(max_length=LABEL_MAX_LENGTH)]
WorkerName = Annotated[str, StringConstraints(min_length=1, max_length=WORKER_NAME_MAX_LENGTH)]


class LanguageInfo(BaseModel):
    code: LanguageCode = Field(description="as a job names it: en, de, pt-br...")
    display_name: Label = Field(description="in English, e.g. 'Portuguese (Brazil)'")


class AccuracyFigure(BaseModel):
    """One measured result of the engine on a reference set (never an estimate)."""

    dataset: Label = Field(description="e.g. 'TIMIT (gold, 76 files)'")
    measure: Label = Field(description="what was compared, e.g. 'word boundaries'")
    mean_error_ms: float = Field(ge=0)
    median_error_ms: float | None = Field(default=None, ge=0)
    within_ms: dict[int, float] = Field(
        default_factory=dict, description="tolerance in ms -> percent of boundaries within it"
    )
    source: Label = Field(description="where the figure comes from, e.g. docs/benchmarks.md")
    measured_on: Label = Field(default="", description="date and machine of the measurement")


class EngineOffer(BaseModel):
    engine: EngineName
    languages: list[LanguageInfo]
    phones: bool = Field(description="whether it gives a phone tier besides the words")
    ready: bool = Field(description="loaded and usable on this replica now")
    reason: Message | None = Field(default=None, description="why it is not ready")
    accuracy: list[AccuracyFigure] = Field(default_factory=list)


class EnginesAnnounced(Event):
    """An aligner replica's engines, published when it starts and every ``every_seconds``
    after: an announcement older than a few periods means the replica is gone."""

    EVENT_TYPE = "aligner.engines-announced"

    worker: WorkerName
    default_engine: EngineName
    engines: list[EngineOffer]
    every_seconds: int = Field(ge=1, description="the next announcement is due after this")


def language_matches(offered: str, wanted: str) -> bool:
    """Whether an engine that lists ``offered`` aligns a job in ``wanted``: 'pt-BR' is
    served by a 'pt-br' or a 'pt' voice; 'en' by 'en' or 'en-us'."""
    offered, wanted = offered.lower(), wanted.lower()
    primary = wanted.split("-")[0]
    return offered in (wanted, primary) or offered.split("-")[0] == wanted
