"""Wires the auth service: settings, runtime, use cases, RPC answers; and its operator CLI:

auth                                   serve
auth set-subscription EMAIL PLAN       move a user to another plan (free, pro, admin...)
auth recalculate-usage EMAIL... | --all
                                       rebuild usage from what storage holds (asked over RPC)
auth dead-letters list | show | replay | purge ...
                                       the dead-letter queues (``auth dead-letters -h``)
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
from auth_service.service_layer.api_keys import ApiKeys
from auth_service.service_layer.quotas import Quotas
from auth_service.settings import AuthSettings
from contracts.rpc import CountStoredUsage, StoredUsage
from servicekit import ServiceRuntime
from servicekit.dead_letters import run_dead_letters
from servicekit.rpc import RpcClient, RpcUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"


# Storage counts a user's files with two indexed sums; a slow answer means it is down.
STORAGE_RPC_TIMEOUT_SECONDS = 10.0


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
    accounts = Accounts(runtime.unit_of_work, Passwords(), tokens)
    register_rpc(runtime, accounts, quotas, ApiKeys(runtime.unit_of_work))
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


def recalculate_usage(runtime: ServiceRuntime, emails: list[str] | None) -> list[tuple[str, bool]]:
    """Each user's usage rebuilt from storage's count: per user, a line saying what changed
    and whether it did. ``emails`` None: every user."""
    quotas = Quotas(runtime.unit_of_work)
    storage = RpcClient(
        runtime.settings.amqp_url.get_secret_value(),
        runtime.topology,
        STORAGE_RPC_TIMEOUT_SECONDS,
        owner="auth",
    )

    async def rebuild() -> list[tuple[str, bool]]:
        await storage.start()
        try:
            return await rebuild_each()
        finally:
            await storage.stop()

    async def rebuild_each() -> list[tuple[str, bool]]:
        async with runtime.unit_of_work() as uow:
            known = await AccountRepository(uow.session).emails()
        wanted = list(known) if emails is None else [normalize_email(e) for e in emails]
        lines: list[tuple[str, bool]] = []
        for email in wanted:
            if email not in known:
                lines.append((f"{email}: no such user", False))
                continue
            before = await quotas.report(known[email])
            request = CountStoredUsage(user_id=known[email], month=before.month)
            facts = await storage.call(request, StoredUsage)
            if not await quotas.rebuild(known[email], facts):
                lines.append((f"{email}: skipped, an upload is in flight; try again", False))
                continue
            after = await quotas.report(known[email])
            change = (
                f"{email}: storage {before.storage_bytes_used} -> {after.storage_bytes_used}"
                f" bytes ({facts.files} files), {after.month}"
                f" {before.audio_minutes_used} -> {after.audio_minutes_used} minutes"
            )
            lines.append((change, True))
        return lines

    return asyncio.run(runtime.run_command(rebuild))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    runtime = build()
    if not argv:
        runtime.run()
        return
    if argv[0] == "dead-letters":
        sys.exit(run_dead_letters(runtime, argv[1:]))
    parser = argparse.ArgumentParser(prog="auth", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    change = commands.add_parser("set-subscription", help="move a user to another plan")
    change.add_argument("email")
    change.add_argument("plan")
    recount = commands.add_parser(
        "recalculate-usage", help="rebuild usage (stored bytes, minutes) from storage's count"
    )
    recount.add_argument("emails", nargs="*", metavar="EMAIL")
    recount.add_argument("--all", action="store_true", help="every user")
    args = parser.parse_args(argv)
    if args.command == "recalculate-usage":
        if bool(args.emails) == args.all:
            parser.error("name users by EMAIL, or give --all")
        try:
            lines = recalculate_usage(runtime, None if args.all else args.emails)
        except RpcUnavailable as exc:
            sys.exit(f"storage did not answer: {exc}")
        print("\n".join(line for line, _ in lines))
        if not all(done for _, done in lines):
            sys.exit(1)
        return
    try:
        changed = set_subscription(runtime, args.email, args.plan)
    except Exception as exc:  # an unknown plan breaks the foreign key
        sys.exit(f"could not change the plan: {type(exc).__name__}")
    if not changed:
        sys.exit(f"no user with the email {args.email}")
    print(f"{args.email} is now on the {args.plan} plan")
