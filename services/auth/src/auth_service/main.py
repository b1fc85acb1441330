"""Wires the auth service: settings, runtime, use cases, RPC answers; and its operator CLI:

auth                                   serve
auth set-subscription EMAIL PLAN       move a user to another plan (free, pro, admin...)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from auth_service.adapters.repository import AccountRepository
from auth_service.domain.model import normalize_email
from auth_service.domain.passwords import Passwords
from auth_service.domain.tokens import TokenIssuer
from auth_service.entrypoints.events import register_consumers
from auth_service.entrypoints.rpc import register_rpc
from auth_service.service_layer.accounts import Accounts
from auth_service.service_layer.quotas import Quotas
from auth_service.settings import AuthSettings
from servicekit import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: AuthSettings | None = None) -> ServiceRuntime:
    settings = settings or AuthSettings()  # type: ignore[call-arg]
    runtime = ServiceRuntime("auth", settings, MIGRATIONS)
    tokens = TokenIssuer(
        settings.signing_key_pem(),
        key_id=settings.jwt_key_id,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        refresh_ttl=timedelta(days=settings.refresh_token_ttl_days),
    )
    quotas = Quotas(runtime.unit_of_work)
    register_rpc(runtime, Accounts(runtime.unit_of_work, Passwords(), tokens), quotas)
    register_consumers(runtime.consumers, quotas)
    return runtime


def set_subscription(runtime: ServiceRuntime, email: str, plan: str) -> bool:
    async def change() -> bool:
        async with runtime.unit_of_work() as uow:
            changed = await AccountRepository(uow.session).set_subscription(
                normalize_email(email), plan
            )
            await uow.commit()
        return changed

    return asyncio.run(runtime.run_command(change))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    runtime = build()
    if not argv:
        runtime.run()
        return
    parser = argparse.ArgumentParser(prog="auth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    change = commands.add_parser("set-subscription", help="move a user to another plan")
    change.add_argument("email")
    change.add_argument("plan")
    args = parser.parse_args(argv)
    try:
        changed = set_subscription(runtime, args.email, args.plan)
    except Exception as exc:  # an unknown plan breaks the foreign key
        sys.exit(f"could not change the plan: {type(exc).__name__}")
    if not changed:
        sys.exit(f"no user with the email {args.email}")
    print(f"{args.email} is now on the {args.plan} plan")
