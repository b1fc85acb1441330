"""Which languages and engines exist, from what the aligner replicas announced; and whether
a job in a language (and engine) could be aligned at all. Plain Python.

An offer is *fresh* while its replica's next announcement is not long overdue; an engine is
*available* when some fresh offer of it is ready. A submit is judged by the fresh offers,
or, when every replica has gone quiet (all stopped: jobs wait in the queue for them), by
what they said last. With no offer at all (a new deployment, no aligner heard from yet) no
job is refused: the aligner's own refusal, later, is all there is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from contracts import AccuracyFigure, EngineOffer, language_matches
from servicekit.errors import DomainError

__all__ = [
    "Catalog",
    "EngineNotAvailable",
    "EngineSummary",
    "LanguageSummary",
    "OfferRecord",
    "UnknownEngine",
    "UnsupportedLanguage",
]

# The codes a submit accepts (submit.LANGUAGE): others espeak-ng lists are not offered.
SUBMITTABLE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})?$")


class UnknownEngine(DomainError):
    code = "unknown_engine"


class EngineNotAvailable(DomainError):
    code = "engine_unavailable"


class UnsupportedLanguage(DomainError):
    code = "unsupported_language"


@dataclass(frozen=True)
class OfferRecord:
    worker: str
    offer: EngineOffer
    is_default: bool
    announced_at: datetime
    fresh_until: datetime


@dataclass(frozen=True)
class EngineSummary:
    name: str
    languages: list[str]
    phones: bool
    available: bool
    default: bool
    replicas: int  # fresh replicas on which it is ready
    accuracy: list[AccuracyFigure]
    reason: str | None


@dataclass(frozen=True)
class LanguageSummary:
    code: str
    name: str
    engines: list[str]
    phones: bool


@dataclass(frozen=True)
class Catalog:
    offers: list[OfferRecord]
    now: datetime

    @property
    def fresh(self) -> list[OfferRecord]:
        return [o for o in self.offers if o.fresh_until > self.now]

    @property
    def heard(self) -> bool:
        """Whether any aligner has announced its engines (ever, as far as we keep)."""
        return bool(self.offers)

    def _judged(self) -> list[OfferRecord]:
        return self.fresh or self.offers

    def engines(self) -> list[EngineSummary]:
        fresh = self.fresh
        by_name: dict[str, list[OfferRecord]] = {}
        for record in self.offers:
            by_name.setdefault(record.offer.engine, []).append(record)
        summaries = []
        for name, records in sorted(by_name.items()):
            ready = [r for r in records if r.offer.ready]
            live = [r for r in ready if r in fresh]
            latest = max(records, key=lambda r: r.announced_at)
            described = ready or records  # one that cannot run still says what it does
            codes = {c for r in described for c in _codes(r.offer)}
            summaries.append(
                EngineSummary(
                    name=name,
                    languages=sorted(codes),
                    phones=any(r.offer.phones for r in described),
                    available=bool(live),
                    default=any(r.is_default for r in (live or records)),
                    replicas=len({r.worker for r in live}),
                    accuracy=latest.offer.accuracy,
                    reason=None if live else _why_not(records, fresh),
                )
            )
        return summaries

    def languages(self) -> list[LanguageSummary]:
        ready = [r for r in self._judged() if r.offer.ready]
        names: dict[str, str] = {}
        for record in ready:
            for info in record.offer.languages:
                if SUBMITTABLE.fullmatch(info.code.lower()):
                    names.setdefault(info.code.lower(), info.display_name)
        summaries = []
        for code, name in sorted(names.items()):
            serving = [r for r in ready if any(language_matches(c, code) for c in _codes(r.offer))]
            summaries.append(
                LanguageSummary(
                    code=code,
                    name=name,
                    engines=sorted({r.offer.engine for r in serving}),
                    phones=any(r.offer.phones for r in serving),
                )
            )
        return summaries

    def check(self, language: str | None, engine: str | None) -> None:
        """Refuses a job no replica could align; says nothing when none has announced.
        ``language`` None: the engine alone (the language is not known yet)."""
        judged = self._judged()
        if not judged:
            return
        ready = [r for r in judged if r.offer.ready]
        if engine is not None:
            known = sorted({r.offer.engine for r in self.offers})
            if engine not in known:
                raise UnknownEngine(
                    f"there is no engine named '{engine}'", engine=engine, engines=known
                )
            ready = [r for r in ready if r.offer.engine == engine]
            if not ready:
                records = [r for r in self.offers if r.offer.engine == engine]
                raise EngineNotAvailable(
                    f"the {engine} engine is not available: {_why_not(records, self.fresh)}",
                    engine=engine,
                    engines=sorted({r.offer.engine for r in judged if r.offer.ready}),
                )
        if language is None:
            return
        offered = sorted({c for r in ready for c in _codes(r.offer) if SUBMITTABLE.fullmatch(c)})
        if not any(language_matches(code, language) for r in ready for code in _codes(r.offer)):
            which = f"the {engine} engine" if engine else "any engine"
            raise UnsupportedLanguage(
                f"'{language}' cannot be aligned by {which} here; GET /api/v1/languages "
                "lists the languages that can",
                language=language,
                engine=engine,
                languages=offered,
            )


def _codes(offer: EngineOffer) -> list[str]:
    return [info.code.lower() for info in offer.languages]


def _why_not(records: list[OfferRecord], fresh: list[OfferRecord]) -> str:
    """Why an engine is not available now: what a replica said, or that none is heard."""
    reasons = [r.offer.reason for r in records if not r.offer.ready and r.offer.reason]
    if reasons:
        return reasons[0]
    if not any(r in fresh for r in records):
        return "no aligner that has it has been heard from lately"
    return "no aligner can load it"
