"""Wires the storage service."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from servicekit import ServiceRuntime
from servicekit.dead_letters import run_dead_letters
from storage_service.adapters.audio import AudioConverter
from storage_service.entrypoints.events import register_consumers
from storage_service.entrypoints.rpc import register_rpc
from storage_service.service_layer.ingest import Ingest
from storage_service.service_layer.store_pair import IngestLimits, PairStorer
from storage_service.settings import StorageSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: StorageSettings | None = None) -> ServiceRuntime:
    settings = settings or StorageSettings()  # type: ignore[call-arg]
    runtime = ServiceRuntime("storage", settings, MIGRATIONS)
    objects = runtime.use_object_store(settings.s3)
    limits = IngestLimits(
        max_audio_seconds=settings.max_audio_seconds,
        max_text_bytes=settings.max_text_bytes,
        max_text_lines=settings.max_text_lines,
        max_text_line_chars=settings.max_text_line_chars,
    )
    ingest = Ingest(
        PairStorer(objects, AudioConverter(settings.ffmpeg), limits),
        objects,
        runtime.unit_of_work,
        timedelta(days=settings.retention_days),
        settings.max_attempts,
        settings.worker_name,
    )
    pair_timeout = timedelta(seconds=settings.pair_timeout_seconds)
    register_consumers(runtime.consumers, ingest, pair_timeout, settings.pairs_at_once, objects)
    register_rpc(runtime)
    return runtime


def main(argv: list[str] | None = None) -> None:
    """Serve; or ``python -m storage_service dead-letters ...`` (see servicekit.dead_letters)."""
    argv = sys.argv[1:] if argv is None else argv
    runtime = build()
    if argv[:1] == ["dead-letters"]:
        sys.exit(run_dead_letters(runtime, argv[1:]))
    runtime.run()
