"""Wires the aligner service."""

from __future__ import annotations

from pathlib import Path

from aligner_service.entrypoints.events import register_consumers
from aligner_service.settings import AlignerSettings
from servicekit import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: AlignerSettings | None = None) -> ServiceRuntime:
    settings = settings or AlignerSettings()  # type: ignore[call-arg]
    runtime = ServiceRuntime("aligner", settings, MIGRATIONS)
    runtime.use_object_store(settings.s3)
    register_consumers(runtime.consumers)
    return runtime


def main() -> None:
    build().run()
