"""Which engines this worker has, loaded once and kept warm."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from aligner_service.engines.base import Engine, EngineUnavailable, supports

__all__ = ["PREFERRED", "EngineRegistry", "EngineState"]

# For a language the default engine does not speak: the engines in the order they measured
# on the non-English sets (docs/benchmarks.md: espeak-phones 15-21 ms mean on German,
# Czech, Greek and Basque where TTS + DTW gave 31-70 ms).
PREFERRED = ("espeak-phones", "tts-dtw")


@dataclass(frozen=True)
class EngineState:
    """One engine as this worker has it now: what it aligns, or why it cannot."""

    name: str
    languages: tuple[str, ...]
    phones: bool
    ready: bool
    reason: str | None = None


class EngineRegistry:
    def __init__(self, factories: dict[str, Callable[[], Engine]], default_engine: str) -> None:
        self._factories = factories
        self._engines: dict[str, Engine] = {}
        self._default = default_engine
        # Engines are made in worker threads (warm-up, announcements, files): one at a time,
        # so that none is made twice (PocketSphinx's would leave a second process).
        self._making = threading.RLock()

    @property
    def default(self) -> str:
        return self._default

    def warm_up(self) -> None:
        self.get(self._default, None)

    def describe(self) -> list[EngineState]:
        """Every engine this worker knows, loaded where it can be (blocking: an engine's
        first load may take a moment); one that cannot load says why."""
        states = []
        for name in sorted(self._factories):
            try:
                engine = self.get(name, None)
            except EngineUnavailable as exc:
                languages, phones = _declared(self._factories[name])
                states.append(EngineState(name, languages, phones, ready=False, reason=str(exc)))
                continue
            states.append(
                EngineState(name, tuple(engine.languages), engine.outputs_phones, ready=True)
            )
        return states

    def get(self, name: str | None, language: str | None) -> Engine:
        if name is None and language is not None:
            name = self._default_for(language)
        name = name or self._default
        if name not in self._factories:
            raise EngineUnavailable(
                f"no engine named '{name}' (available: {', '.join(sorted(self._factories))})"
            )
        engine = self._engines.get(name)
        if engine is None:
            with self._making:
                if name not in self._engines:
                    self._engines[name] = self._factories[name]()
                engine = self._engines[name]
        if language is not None and not supports(engine, language):
            raise EngineUnavailable(
                f"the {name} engine does not align language '{language}' "
                f"(it aligns: {', '.join(engine.languages)})"
            )
        return engine

    def _default_for(self, language: str) -> str:
        """The default engine if it speaks the language, else the one measured best of those
        that do (PREFERRED), else the first that does."""
        preferred = [name for name in PREFERRED if name in self._factories]
        for name in (self._default, *preferred, *sorted(self._factories)):
            try:
                if supports(self.get(name, None), language):
                    return name
            except EngineUnavailable:
                continue
        return self._default


def _declared(factory: Callable[[], Engine]) -> tuple[tuple[str, ...], bool]:
    """What an engine that could not be made says of itself in its class (languages and
    phones, where the class declares them), so that it is described all the same."""
    made_by = getattr(factory, "func", factory)  # a functools.partial of the class
    languages = getattr(made_by, "languages", ())
    phones = getattr(made_by, "outputs_phones", False)
    if not isinstance(languages, tuple) or not isinstance(phones, bool):
        return (), False
    return tuple(str(code) for code in languages), phones
