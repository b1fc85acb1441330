"""``janitor run-once [--dry-run] [--now 2030-01-01T00:00:00]``: one cleanup and one sweep of
incoming/ now."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime, timedelta

from janitor_service.service_layer.cleanup import CleanupReport, run_cleanup
from janitor_service.service_layer.uploads import SweepReport, sweep_incoming
from servicekit import ServiceRuntime
from servicekit.objects import Objects


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="janitor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    once = commands.add_parser(
        "run-once", help="delete what has expired and abandoned uploads, then exit"
    )
    once.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    once.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=None,
        help="the clock to judge expiry and uploads' age by (UTC, ISO 8601); default: now",
    )
    return parser.parse_args(argv)


def run_once(
    runtime: ServiceRuntime, objects: Objects, args: argparse.Namespace, grace: timedelta
) -> CleanupReport:
    now = args.now.replace(tzinfo=None) if args.now else None

    async def cleanup() -> tuple[CleanupReport, SweepReport]:
        try:
            expired = await run_cleanup(
                runtime.unit_of_work, objects, now=now, dry_run=args.dry_run
            )
            swept = await sweep_incoming(
                runtime.unit_of_work, objects, grace, now=now, dry_run=args.dry_run
            )
        finally:
            await objects.close()  # no "unclosed session" warning after the report
        return expired, swept

    report, swept = asyncio.run(runtime.run_command(cleanup))
    print(
        json.dumps(
            {
                "dry_run": report.dry_run,
                "clock": report.clock.isoformat(),
                "files": len(report.files),
                "objects": [key for f in report.files for key in f.object_keys],
                "bytes": report.bytes,
                "incoming": swept.as_dict(),
            }
        ),
        flush=True,
    )
    return report
