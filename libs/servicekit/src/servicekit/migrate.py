"""The one-shot migration step: ``python -m servicekit.migrate SERVICE...``.

Upgrades each named service's schema to its Alembic head and exits: what a compose
``migrate`` job or a Kubernetes Job runs before the services start (``make migrate`` does it
for ``make dev``'s configuration). Each service's URL is its own setting,
``<SERVICE>_DB_URL``, the one the service itself reads. The services upgrade at start too;
under the kit's schema lock (``servicekit.migrations.schema_lock``) a replica that finds the
schema at head does nothing, so running this first only makes the start quicker and the
failures earlier. Exit status: 0 done, 1 a migration failed, 2 usage (unknown service, no
URL).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from servicekit.migrations import upgrade_to_head

__all__ = ["migrate_service", "migrations_dir"]

SERVICES = ("auth", "storage", "aligner", "janitor", "notifier", "gateway")


def migrations_dir(service: str) -> Path:
    """``<service>_service/migrations`` of the installed package."""
    spec = importlib.util.find_spec(f"{service}_service")
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"the {service} service is not installed here")
    return Path(next(iter(spec.submodule_search_locations))) / "migrations"


def migrate_service(service: str, url: str) -> None:
    upgrade_to_head(migrations_dir(service), url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicekit.migrate", description=__doc__)
    parser.add_argument("services", nargs="+", metavar="SERVICE", choices=SERVICES)
    args = parser.parse_args(argv)
    for service in args.services:
        url = os.environ.get(f"{service.upper()}_DB_URL")
        if not url:
            print(f"migrate: {service.upper()}_DB_URL is not set", file=sys.stderr)
            return 2
        try:
            migrate_service(service, url)
        except LookupError as exc:
            print(f"migrate: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # the reason, not a traceback, for the operator
            print(f"migrate: {service} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print(f"{service}: schema at head", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
