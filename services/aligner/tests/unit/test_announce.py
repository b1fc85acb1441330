"""What a replica announces about its engines."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from aligner_service.engines.base import Engine, EngineOutput, EngineUnavailable
from aligner_service.engines.catalog import ACCURACY, display_name, parse_voices
from aligner_service.engines.registry import EngineRegistry, EngineState
from aligner_service.service_layer.announce import Announcer, announcement
from contracts import EnginesAnnounced, Envelope

VOICES = """Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  de              --/M      German             gmw/de
 2  en-us           --/M      English_(America)  gmw/en-US            (en 2)
 5  pt-br           --/M      Portuguese_(Brazil) roa/pt-BR            (pt 6)
 5  chr-US-Qaaa-x-west --/M      Cherokee_          iro/chr
"""


class FakeEngine:
    def __init__(self, name: str, languages: tuple[str, ...], phones: bool) -> None:
        self.name, self.languages, self.outputs_phones = name, languages, phones

    def knows(self, word: str) -> bool:
        return True

    def learn(self, words: list[str]) -> list[str]:
        return []

    def align(self, pcm16k: bytes, words: list[str], language: str) -> EngineOutput:
        raise NotImplementedError


class MissingEngine(FakeEngine):
    languages: tuple[str, ...] = ("en",)
    outputs_phones = True

    def __init__(self) -> None:
        raise EngineUnavailable("mfa is not installed on this worker")


def registry() -> EngineRegistry:
    factories: dict[str, Callable[[], Engine]] = {
        "pocketsphinx": lambda: FakeEngine("pocketsphinx", ("en",), True),
        "tts-dtw": lambda: FakeEngine("tts-dtw", ("de", "en-us", "chr-us-qaaa-x-west"), False),
        "mfa": partial(MissingEngine),
    }
    return EngineRegistry(factories, "pocketsphinx")


def test_voices_give_language_names() -> None:
    names = parse_voices(VOICES)
    assert names["de"] == "German"
    assert names["pt-br"] == "Portuguese (Brazil)"
    assert display_name("en", names) == "English"  # espeak-ng lists only its variants
    assert display_name("en-us", names) == "English (America)"
    assert display_name("xx", names) == "xx"


def test_every_engine_is_described_even_one_that_cannot_load() -> None:
    states = {s.name: s for s in registry().describe()}
    assert states["pocketsphinx"] == EngineState("pocketsphinx", ("en",), True, ready=True)
    assert not states["mfa"].ready
    assert states["mfa"].reason == "mfa is not installed on this worker"
    assert states["mfa"].languages == ("en",) and states["mfa"].phones  # from its class


def test_the_announcement_names_languages_and_measured_accuracy() -> None:
    event = announcement(
        "aligner-1", "pocketsphinx", registry().describe(), parse_voices(VOICES), 30
    )
    offers = {o.engine: o for o in event.engines}
    assert offers["pocketsphinx"].accuracy == ACCURACY["pocketsphinx"]
    assert offers["pocketsphinx"].accuracy[0].source.startswith("docs/benchmarks.md")
    assert [(i.code, i.display_name) for i in offers["pocketsphinx"].languages] == [
        ("en", "English")
    ]
    # a code longer than a job's language may be is left out
    assert [i.code for i in offers["tts-dtw"].languages] == ["de", "en-us"]
    assert offers["mfa"].accuracy == [] and not offers["mfa"].ready
    assert EnginesAnnounced.model_validate_json(event.model_dump_json()) == event


async def test_the_announcer_publishes_an_envelope() -> None:
    sent: list[Envelope[EnginesAnnounced]] = []

    async def publish(envelope: Envelope[EnginesAnnounced]) -> None:
        sent.append(envelope)

    announcer = Announcer(registry(), "aligner-1", 30, publish)
    await announcer.announce()
    assert sent[0].routing_key == "aligner.engines-announced.v1"
    assert sent[0].payload.worker == "aligner-1" and sent[0].payload.every_seconds == 30


def test_a_language_the_default_does_not_speak_gets_the_engine_measured_best() -> None:
    factories: dict[str, Callable[[], Engine]] = {
        "pocketsphinx": lambda: FakeEngine("pocketsphinx", ("en",), True),
        "tts-dtw": lambda: FakeEngine("tts-dtw", ("de", "nan-x"), False),
        "espeak-phones": lambda: FakeEngine("espeak-phones", ("de",), True),
    }
    engines = EngineRegistry(factories, "pocketsphinx")
    assert engines.get(None, "en").name == "pocketsphinx"
    assert engines.get(None, "de").name == "espeak-phones"
    assert engines.get(None, "nan-x").name == "tts-dtw"
