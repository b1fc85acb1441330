"""Wires the janitor service."""

from __future__ import annotations

from pathlib import Path

from janitor_service.entrypoints.events import register_consumers
from janitor_service.settings import JanitorSettings
from servicekit import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: JanitorSettings | None = None) -> ServiceRuntime:
    settings = settings or JanitorSettings()  # type: ignore[call-arg]
    runtime = ServiceRuntime("janitor", settings, MIGRATIONS)
    runtime.use_object_store(settings.s3)
    register_consumers(runtime.consumers)
    return runtime


def main() -> None:
    build().run()
