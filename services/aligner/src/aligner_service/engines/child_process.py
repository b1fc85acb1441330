"""An engine run in a child process of its own.

PocketSphinx's search is one C call that holds the GIL for as long as the audio lasts
(0.8 s for 27 s of speech, about 2 s for a 60 s piece): run in a thread of the service,
it stalls the event loop that answers ``/readyz``, consumes events and keeps the broker's
heartbeats. In a child process it stalls nothing; the service only waits for its answer.
One child per engine and process, one call at a time (the engine is single-threaded
anyway); a child that dies is started again for the next call.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from aligner_service.engines.base import Engine, EngineOutput

__all__ = ["ChildProcessEngine"]

_CONTEXT = multiprocessing.get_context("spawn")  # no fork of a process with threads and loops


def _serve(factory: Callable[[], Engine], connection: Connection) -> None:
    engine = factory()
    connection.send((True, (engine.name, tuple(engine.languages), engine.outputs_phones)))
    while True:
        try:
            method, args = connection.recv()
        except EOFError:  # the service went away
            return
        try:
            connection.send((True, getattr(engine, method)(*args)))
        except Exception as exc:  # the engine's own errors go back to the caller
            connection.send((False, exc))


class ChildProcessEngine:
    def __init__(self, factory: Callable[[], Engine]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._process: Any = None
        self._connection: Connection | None = None
        self.name, self.languages, self.outputs_phones = self._start()
        self._vocabulary: dict[str, bool] = {}

    def _start(self) -> tuple[str, tuple[str, ...], bool]:
        parent, child = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(
            target=_serve, args=(self._factory, child), daemon=True, name="engine"
        )
        self._process.start()
        child.close()
        self._connection = parent
        ok, described = parent.recv()
        assert ok
        name, languages, phones = described
        return str(name), tuple(languages), bool(phones)

    def _call(self, method: str, *args: Any) -> Any:
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
                self._vocabulary.clear()  # a new child knows only its own dictionary
            assert self._connection is not None
            try:
                self._connection.send((method, args))
                ok, value = self._connection.recv()
            except (EOFError, OSError) as exc:
                self._process = None
                raise RuntimeError(f"the {self.name} engine's process died") from exc
        if not ok:
            raise value
        return value

    def knows(self, word: str) -> bool:
        # Asked once per distinct word and remembered: words are only ever learnt.
        if word not in self._vocabulary:
            self._vocabulary[word] = bool(self._call("knows", word))
        return self._vocabulary[word]

    def learn(self, words: list[str]) -> list[str]:
        learnt: list[str] = self._call("learn", words)
        self._vocabulary.update(dict.fromkeys(learnt, True))
        return learnt

    def define(self, entries: dict[str, list[str]]) -> dict[str, str]:
        names: dict[str, str] = self._call("define", entries)
        self._vocabulary.update(dict.fromkeys(names.values(), True))
        return names

    def guessed(self, words: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = self._call("guessed", words)
        return found

    def align(self, pcm16k: bytes, words: list[str], language: str = "en") -> EngineOutput:
        output: EngineOutput = self._call("align", pcm16k, words, language)
        return output

    def align_prefix(
        self, pcm16k: bytes, words: list[str], language: str, min_words: int
    ) -> EngineOutput:
        output: EngineOutput = self._call("align_prefix", pcm16k, words, language, min_words)
        return output

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.join(5)
