"""Wires the auth service: settings, runtime, use cases, RPC answers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from auth_service.domain.passwords import Passwords
from auth_service.domain.tokens import TokenIssuer
from auth_service.entrypoints.rpc import register_rpc
from auth_service.service_layer.accounts import Accounts
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
    register_rpc(runtime, Accounts(runtime.unit_of_work, Passwords(), tokens))
    return runtime


def main() -> None:
    build().run()
