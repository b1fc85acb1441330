"""Operator commands over ``make dev``'s configuration (the same ``DEVSTACK_*`` settings and
``.dev/`` state), documented in docs/operations.md:

devstack backup DEST            the schemas and the bucket, while the system is up
devstack restore SRC            put a backup back, with the system stopped
devstack migrate                create the schemas and users, upgrade each to its head
devstack smoke URL [...]        health, sign-up, one job to COMPLETED, download (< 1 min)
devstack dead-letters SERVICE list | show | replay | purge ...
                                a service's dead-letter queues, with its settings
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from devstack.backup import BackupError, backup, restore
from devstack.config import SERVICES, StackConfig, service_env
from devstack.provision import provision_databases
from devstack.stack import Stack, default_state_dir

__all__ = ["OPS_COMMANDS", "dead_letters", "migrate", "ops_main"]

OPS_COMMANDS = frozenset({"backup", "restore", "migrate", "smoke", "dead-letters"})


def migrate(stack: Stack) -> None:
    """Schemas and users as ``make dev`` makes them, then every service's Alembic history
    to its head (the kit's schema lock makes this safe beside running services)."""
    from servicekit.migrate import migrate_service

    provision_databases(stack.config, stack.secrets)
    for service in SERVICES:
        url = service_env(stack.config, stack.secrets, service)[f"{service.upper()}_DB_URL"]
        migrate_service(service, url)
        print(f"{service}: {stack.config.schema(service)} at head", flush=True)


def dead_letters(stack: Stack, service: str, args: list[str]) -> int:
    """``<service> dead-letters ARGS`` (servicekit.dead_letters) with the service's
    environment as ``make dev`` gives it; its exit status."""
    return subprocess.run(
        [stack.python, "-m", f"{service}_service", "dead-letters", *args],
        env=stack.env(service),
        check=False,
    ).returncode


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="devstack", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    save = commands.add_parser("backup", help="back up the schemas and the bucket")
    save.add_argument("dest", type=Path, metavar="DEST", help="a new or empty folder")
    back = commands.add_parser("restore", help="restore a backup (system stopped)")
    back.add_argument("src", type=Path, metavar="SRC", help="a folder made by backup")
    commands.add_parser("migrate", help="every service's schema to its head")
    smoke = commands.add_parser("smoke", help="a deployment's health, end to end")
    smoke.add_argument("url", metavar="URL", help="the gateway, e.g. http://127.0.0.1:8000")
    smoke.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="where a service's /readyz is (default: URL's host, make dev's ports)",
    )
    smoke.add_argument("--gateway-only", action="store_true", help="check only the gateway")
    smoke.add_argument("--audio", type=Path, help="a short recording (default: espeak-ng)")
    smoke.add_argument("--text", type=Path, help="its transcript")
    smoke.add_argument("--timeout", type=float, default=60.0, help="seconds (60)")
    letters = commands.add_parser("dead-letters", help="a service's dead-letter queues")
    letters.add_argument("service", choices=SERVICES)
    letters.add_argument("args", nargs=argparse.REMAINDER, help="list | show | replay | purge")
    return root


def ops_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.command == "smoke":
        from devstack.smoke import main as smoke_main

        return smoke_main(
            args.url,
            args.service,
            gateway_only=args.gateway_only,
            audio=args.audio,
            text=args.text,
            timeout=args.timeout,
        )
    try:
        config = StackConfig.from_env(default_state_dir())
        if args.command == "backup" and not (config.state_dir / "secrets.json").exists():
            raise BackupError(f"no {config.state_dir}/secrets.json: is make dev run from here?")
        stack = Stack(config)
        if args.command == "backup":
            manifest = backup(stack, args.dest)
            print(f"backed up {len(manifest['schemas'])} schemas and", end=" ")
            print(f"{len(manifest['objects'])} objects into {args.dest}")
        elif args.command == "restore":
            manifest = restore(stack, args.src)
            print(f"restored {len(manifest['schemas'])} schemas and", end=" ")
            print(f"{len(manifest['objects'])} objects from {args.src} ({manifest['created_at']})")
        elif args.command == "migrate":
            migrate(stack)
        else:
            return dead_letters(stack, args.service, args.args)
    except (BackupError, ValueError, RuntimeError, OSError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0
