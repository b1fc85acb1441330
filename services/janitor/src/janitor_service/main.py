"""Wires the janitor: the ledger consumers, the daily cleanup, the sweep of incoming/, and
the run-once command."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from janitor_service.entrypoints.cli import parse, run_once
from janitor_service.entrypoints.events import register_consumers
from janitor_service.service_layer.cleanup import run_cleanup
from janitor_service.service_layer.schedule import run_daily, run_every
from janitor_service.service_layer.uploads import sweep_incoming
from janitor_service.settings import JanitorSettings
from servicekit import ServiceRuntime
from servicekit.dead_letters import run_dead_letters
from servicekit.objects import Objects

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: JanitorSettings | None = None) -> tuple[ServiceRuntime, Objects]:
    settings = settings or JanitorSettings()  # type: ignore[call-arg]
    runtime = ServiceRuntime("janitor", settings, MIGRATIONS)
    objects = runtime.use_object_store(settings.s3)
    register_consumers(
        runtime.consumers,
        timedelta(days=settings.default_retention_days),
        runtime.unit_of_work,
        objects,
    )

    async def cleanup() -> object:
        return await run_cleanup(runtime.unit_of_work, objects)

    async def sweep() -> object:
        return await sweep_incoming(runtime.unit_of_work, objects, settings.incoming_grace)

    schedule: list[asyncio.Task[None]] = []

    async def start_schedule() -> None:
        schedule.append(asyncio.create_task(run_daily(settings.cleanup_at, runtime.db, cleanup)))
        schedule.append(
            asyncio.create_task(
                run_every(settings.sweep_every, runtime.db, sweep, lock="janitor-sweep")
            )
        )

    async def stop_schedule() -> None:
        for task in schedule:
            task.cancel()

    runtime.on_started.append(start_schedule)
    runtime.on_stopping.append(stop_schedule)
    return runtime, objects


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    settings = JanitorSettings()  # type: ignore[call-arg]
    runtime, objects = build(settings)
    if argv[:1] == ["dead-letters"]:
        sys.exit(run_dead_letters(runtime, argv[1:]))
    if argv:
        run_once(runtime, objects, parse(argv), settings.incoming_grace)
    else:
        runtime.run()
