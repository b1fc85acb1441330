"""The languages and engines the aligners announced: kept from ``EnginesAnnounced``, read
for /languages and /engines and for every submit (from a copy a few seconds old at most,
so that a submit costs no extra query)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from contracts import EnginesAnnounced, Envelope
from gateway_service.adapters.engine_offers import EngineOffers
from gateway_service.domain.engines import Catalog
from gateway_service.service_layer.submit import ENGINE, LANGUAGE
from servicekit import UnitOfWork, get_logger, utc_naive_now

__all__ = ["FRESH_PERIODS", "EngineCatalog", "record_announcement"]

log = get_logger(__name__)

# An offer counts as fresh until this many of its replica's periods pass unannounced.
FRESH_PERIODS = 3


async def record_announcement(envelope: Envelope[EnginesAnnounced], uow: UnitOfWork) -> None:
    announced = envelope.payload
    at = envelope.occurred_at.replace(tzinfo=None)  # naive UTC, as every timestamp kept
    fresh_until = at + timedelta(seconds=FRESH_PERIODS * announced.every_seconds)
    offers = EngineOffers(uow.session)
    if not await offers.replace(announced, at, fresh_until):
        log.info("engines.announcement_outdated", worker=announced.worker)
    await offers.forget_silent(utc_naive_now())


class EngineCatalog:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork], max_age_seconds: float) -> None:
        self._uow = unit_of_work
        self._max_age = max_age_seconds
        self._cached: Catalog | None = None
        self._read_at = 0.0

    async def current(self) -> Catalog:
        now = time.monotonic()
        if self._cached is None or now - self._read_at > self._max_age:
            async with self._uow() as uow:
                offers = await EngineOffers(uow.session).all()
            self._cached, self._read_at = Catalog(offers, utc_naive_now()), now
        return Catalog(self._cached.offers, utc_naive_now())

    async def check_fields(self, fields: dict[str, str]) -> None:
        """While a submit streams in: refuse as soon as its language or engine field says
        the job cannot run, before the files that come after are uploaded."""
        language, engine = fields.get("language") or None, fields.get("engine") or None
        if language is None and engine is None:
            return
        if (language and not LANGUAGE.fullmatch(language)) or (
            engine and not ENGINE.fullmatch(engine)
        ):
            return  # malformed: the submit itself says so once the upload is in
        catalog = await self.current()
        if catalog.heard:
            catalog.check(language, engine)

    async def check(self, language: str, engine: str | None) -> None:
        """Refuses (UnsupportedLanguage, UnknownEngine, EngineNotAvailable) a job no
        aligner could run; with no aligner heard from yet it lets the job through."""
        catalog = await self.current()
        if not catalog.heard:
            log.warning(
                "engines.unknown",
                detail="no aligner has announced its engines yet: the job is not checked",
                language=language,
                engine=engine,
            )
            return
        catalog.check(language, engine)
