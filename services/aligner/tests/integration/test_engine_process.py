"""The PocketSphinx search runs in a process of its own: while a 27 s recording is aligned,
the service's event loop (readiness, consumers, heartbeats) keeps answering, which it did
not when the search ran in a thread (the search holds the GIL: 0.8 s stalls here)."""

from __future__ import annotations

import asyncio
import os
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aligner_service.domain.transcript import tokenize
from aligner_service.engines.base import EngineFailed
from aligner_service.engines.child_process import ChildProcessEngine
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine

pytestmark = pytest.mark.integration

EVAL = Path(
    os.environ.get("ALIGNMENT_EVAL_DIR")
    or Path(__file__).resolve().parents[5] / "shared" / "data" / "alignment-eval"
)
RECORDING = EVAL / "mfa_tests" / "acoustic_corpus"  # 27 s of speech


@pytest.fixture(scope="module")
def engine() -> Iterator[ChildProcessEngine]:
    child = ChildProcessEngine(PocketSphinxEngine)
    yield child
    child.close()


async def worst_lag_while(work: asyncio.Future[Any]) -> float:
    worst = 0.0
    while not work.done():
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - started - 0.01)
    await work
    return worst


async def test_aligning_a_long_recording_does_not_stall_the_event_loop(
    engine: ChildProcessEngine,
) -> None:
    with wave.open(str(RECORDING.with_suffix(".wav"))) as source:
        pcm = source.readframes(source.getnframes())
    words = [t.key for t in tokenize(RECORDING.with_suffix(".txt").read_text(encoding="utf-8"))]
    engine.learn([w for w in words if not engine.knows(w)])
    work = asyncio.ensure_future(asyncio.to_thread(engine.align, pcm, words, "en"))
    assert await worst_lag_while(work) < 0.2
    output = work.result()
    assert len(output.words) == len(words)


def test_the_engines_refusals_and_a_dead_process(engine: ChildProcessEngine) -> None:
    assert (engine.name, engine.languages) == ("pocketsphinx", ("en",))
    with pytest.raises(EngineFailed):  # its own errors come back as they are
        engine.align(b"\0" * 3200, [], "en")
    engine._process.kill()  # a search that crashed its process
    engine._process.join()
    engine._vocabulary.clear()
    assert engine.knows("speech")  # a new process answers the next call
    assert engine._process.is_alive()
