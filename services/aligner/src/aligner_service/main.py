"""Wires the aligner: engines loaded once per process, then the job consumer."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

from aligner_service.adapters.announcements import announcement_publisher
from aligner_service.engines.base import Engine
from aligner_service.engines.child_process import ChildProcessEngine
from aligner_service.engines.espeak_phones_engine import EspeakPhonesEngine
from aligner_service.engines.long_audio import LongAudioAligner
from aligner_service.engines.mfa_engine import MfaEngine
from aligner_service.engines.pocketsphinx_engine import PocketSphinxEngine
from aligner_service.engines.registry import EngineRegistry
from aligner_service.engines.tts_dtw_engine import TtsDtwEngine
from aligner_service.entrypoints.events import register_consumers
from aligner_service.service_layer.aging import OverdueJobs
from aligner_service.service_layer.align_file import FileAligner
from aligner_service.service_layer.align_files import AlignFiles
from aligner_service.service_layer.announce import Announcer
from aligner_service.settings import AlignerSettings
from contracts import Envelope, FileAlignmentQueued
from servicekit import ServiceRuntime
from servicekit.dead_letters import run_dead_letters
from servicekit.messaging import make_queue_publisher

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: AlignerSettings | None = None) -> ServiceRuntime:
    settings = settings or AlignerSettings()  # type: ignore[call-arg]
    runtime = ServiceRuntime("aligner", settings, MIGRATIONS)
    objects = runtime.use_object_store(settings.s3)
    factories: dict[str, Callable[[], Engine]] = {
        # Its search holds the GIL for as long as the audio lasts: a process of its own.
        "pocketsphinx": lambda: ChildProcessEngine(
            partial(PocketSphinxEngine, adapt_min_seconds=settings.adapt_min_seconds)
        ),
        "mfa": partial(MfaEngine, settings.mfa_command),
        "tts-dtw": TtsDtwEngine,
        # The English model's search too: a process of its own, as PocketSphinx's.
        "espeak-phones": lambda: ChildProcessEngine(EspeakPhonesEngine),
    }
    engines = EngineRegistry(factories, settings.default_engine)

    async def warm_up() -> None:
        await asyncio.to_thread(engines.warm_up)

    def locator() -> TtsDtwEngine:
        engine = engines.get("tts-dtw", None)
        assert isinstance(engine, TtsDtwEngine)
        return engine

    runtime.on_starting.append(warm_up)
    every = settings.announce_every_seconds
    announce = announcement_publisher(runtime.broker, runtime.topology, every)
    announcer = Announcer(engines, settings.worker_name, every, announce)
    runtime.on_started.append(announcer.start)
    runtime.on_stopping.append(announcer.stop)
    aligner = FileAligner(objects, LongAudioAligner(locator))
    files = AlignFiles(
        engines, aligner, runtime.unit_of_work, settings.max_attempts, settings.worker_name
    )
    file_timeout = timedelta(seconds=settings.file_timeout_seconds)
    work_queue = runtime.topology.event_queue(
        "aligner", FileAlignmentQueued, priority=True, consumer_timeout=file_timeout
    )
    publish = make_queue_publisher(runtime.broker)

    async def requeue(envelope: Envelope[FileAlignmentQueued], priority: int) -> None:
        await publish(work_queue, envelope, priority)

    promote_after = timedelta(seconds=settings.promote_after_seconds)
    register_consumers(
        runtime.consumers,
        files,
        OverdueJobs(files, requeue),
        promote_after,
        file_timeout,
        objects,
    )
    return runtime


def main(argv: list[str] | None = None) -> None:
    """Serve; or ``python -m aligner_service dead-letters ...`` (see servicekit.dead_letters)."""
    argv = sys.argv[1:] if argv is None else argv
    runtime = build()
    if argv[:1] == ["dead-letters"]:
        sys.exit(run_dead_letters(runtime, argv[1:]))
    runtime.run()
