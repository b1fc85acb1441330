"""Which languages and engines exist, and which submits are refused, from announcements."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contracts import AccuracyFigure, EngineOffer, LanguageInfo
from gateway_service.domain.engines import (
    Catalog,
    EngineNotAvailable,
    OfferRecord,
    UnknownEngine,
    UnsupportedLanguage,
)

NOW = datetime(2026, 11, 30, 12, 0, 0)
FIGURE = AccuracyFigure(
    dataset="TIMIT", measure="word boundaries", mean_error_ms=20.7, source="docs/benchmarks.md"
)


def offer(engine: str, codes: list[str], *, phones: bool = True, ready: bool = True) -> EngineOffer:
    return EngineOffer(
        engine=engine,
        languages=[LanguageInfo(code=c, display_name=f"name of {c}") for c in codes],
        phones=phones,
        ready=ready,
        reason=None if ready else f"{engine} is not installed",
        accuracy=[FIGURE] if engine == "pocketsphinx" else [],
    )


def record(worker: str, o: EngineOffer, *, age: float = 10, default: bool = False) -> OfferRecord:
    at = NOW - timedelta(seconds=age)
    return OfferRecord(worker, o, default, at, at + timedelta(seconds=90))


def fleet(age: float = 10) -> list[OfferRecord]:
    return [
        record("a1", offer("pocketsphinx", ["en"]), age=age, default=True),
        record(
            "a1",
            offer("tts-dtw", ["de", "en-us", "pt-br", "cmn-latn-pinyin"], phones=False),
            age=age,
        ),
        record("a1", offer("mfa", ["en"], ready=False), age=age),
    ]


def test_engines_say_what_they_align_and_whether_they_run_now() -> None:
    engines = {e.name: e for e in Catalog(fleet(), NOW).engines()}
    assert engines["pocketsphinx"].available and engines["pocketsphinx"].default
    assert engines["pocketsphinx"].languages == ["en"] and engines["pocketsphinx"].phones
    assert engines["pocketsphinx"].accuracy == [FIGURE]
    assert engines["pocketsphinx"].replicas == 1
    assert not engines["tts-dtw"].phones
    assert not engines["mfa"].available
    assert engines["mfa"].reason == "mfa is not installed"
    assert engines["mfa"].languages == ["en"] and engines["mfa"].phones  # what it would do


def test_an_engine_not_announced_lately_is_not_available() -> None:
    engines = {e.name: e for e in Catalog(fleet(age=600), NOW).engines()}
    assert not engines["pocketsphinx"].available
    assert engines["pocketsphinx"].reason is not None


def test_languages_name_the_engines_that_align_them() -> None:
    languages = {lang.code: lang for lang in Catalog(fleet(), NOW).languages()}
    assert languages["en"].engines == ["pocketsphinx", "tts-dtw"]
    assert languages["en"].phones
    assert languages["de"].engines == ["tts-dtw"] and not languages["de"].phones
    assert "cmn-latn-pinyin" not in languages  # a submit could not name it


def test_a_job_nobody_could_align_is_refused() -> None:
    catalog = Catalog(fleet(), NOW)
    catalog.check("en", None)
    catalog.check("pt-BR", None)
    catalog.check("en", "pocketsphinx")
    catalog.check("de", "tts-dtw")
    with pytest.raises(UnsupportedLanguage) as unsupported:
        catalog.check("xx", None)
    assert unsupported.value.code == "unsupported_language"
    assert "en" in unsupported.value.details["languages"]  # type: ignore[operator]
    with pytest.raises(UnsupportedLanguage):
        catalog.check("de", "pocketsphinx")
    with pytest.raises(UnknownEngine) as unknown:
        catalog.check("en", "whisper")
    assert unknown.value.details["engines"] == ["mfa", "pocketsphinx", "tts-dtw"]
    with pytest.raises(EngineNotAvailable, match="not installed"):
        catalog.check("en", "mfa")


def test_before_any_announcement_nothing_is_refused() -> None:
    catalog = Catalog([], NOW)
    assert not catalog.heard
    catalog.check("xx", "whisper")
    assert catalog.engines() == [] and catalog.languages() == []


def test_when_every_aligner_went_quiet_their_last_word_still_judges() -> None:
    catalog = Catalog(fleet(age=3600), NOW)
    catalog.check("en", None)  # the job waits in the queue for an aligner
    with pytest.raises(UnsupportedLanguage):
        catalog.check("xx", None)


def test_a_replica_gone_quiet_does_not_count_beside_fresh_ones() -> None:
    offers = [
        record("old", offer("pocketsphinx", ["en", "fr"]), age=3600),
        record("new", offer("pocketsphinx", ["en"]), age=5),
    ]
    catalog = Catalog(offers, NOW)
    with pytest.raises(UnsupportedLanguage):
        catalog.check("fr", None)


def test_an_engine_alone_is_checked_before_the_language_is_known() -> None:
    catalog = Catalog(fleet(), NOW)
    catalog.check(None, "tts-dtw")
    with pytest.raises(UnknownEngine):
        catalog.check(None, "whisper")
    with pytest.raises(EngineNotAvailable):
        catalog.check(None, "mfa")
