"""``janitor run-once [--dry-run] [--now 2030-01-01T00:00:00]``: one cleanup now."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime

from janitor_service.service_layer.cleanup import CleanupReport, run_cleanup
from servicekit import ServiceRuntime
from servicekit.objects import Objects


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="janitor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    once = commands.add_parser("run-once", help="delete what has expired, then exit")
    once.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    once.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=None,
        help="the clock to judge expiry by (UTC, ISO 8601); default: now",
    )
    return parser.parse_args(argv)


def run_once(runtime: ServiceRuntime, objects: Objects, args: argparse.Namespace) -> CleanupReport:
    now = args.now.replace(tzinfo=None) if args.now else None

    async def cleanup() -> CleanupReport:
        return await run_cleanup(runtime.unit_of_work, objects, now=now, dry_run=args.dry_run)

    report = asyncio.run(runtime.run_command(cleanup))
    print(
        json.dumps(
            {
                "dry_run": report.dry_run,
                "clock": report.clock.isoformat(),
                "files": len(report.files),
                "objects": [key for f in report.files for key in f.object_keys],
                "bytes": report.bytes,
            }
        ),
        flush=True,
    )
    return report
