"""Wires the storage service."""

from __future__ import annotations

from pathlib import Path

from servicekit import ServiceRuntime
from storage_service.entrypoints.events import register_consumers
from storage_service.settings import StorageSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: StorageSettings | None = None) -> ServiceRuntime:
    settings = settings or StorageSettings()  # type: ignore[call-arg]
    runtime = ServiceRuntime("storage", settings, MIGRATIONS)
    runtime.use_object_store(settings.s3)
    register_consumers(runtime.consumers)
    return runtime


def main() -> None:
    build().run()
