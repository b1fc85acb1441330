"""Wires the gateway: the public API and the service runtime in one process."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from contracts.rpc import ApiKeyOwner, VerifyApiKey
from gateway_service.adapters.stream_tokens import StreamTokens
from gateway_service.adapters.tokens import AccessTokenVerifier
from gateway_service.adapters.upload import UploadLimits
from gateway_service.adapters.watched_jobs import WatchedJobs
from gateway_service.api import alignment, api_keys, auth, discovery, events, users, webhooks
from gateway_service.api.cors import allow_origins
from gateway_service.api.drain import DrainUnreadBody
from gateway_service.api.errors import ERROR_RESPONSES, install_error_handlers
from gateway_service.api.rate_limits import RateLimits
from gateway_service.entrypoints.events import register_consumers
from gateway_service.service_layer.api_keys import ApiKeyVerifier
from gateway_service.service_layer.engine_catalog import EngineCatalog
from gateway_service.service_layer.job_changes import JobChanges
from gateway_service.service_layer.recent_quotas import RecentQuotaReports
from gateway_service.service_layer.waiting_jobs import WaitingJobs
from gateway_service.settings import GatewaySettings
from servicekit import ServiceRuntime
from servicekit.dead_letters import run_dead_letters
from servicekit.rpc import RpcClient

MIGRATIONS = Path(__file__).parent / "migrations"
API_PREFIX = "/api/v1"


def build(settings: GatewaySettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or GatewaySettings()  # type: ignore[call-arg]
    runtime = ServiceRuntime("gateway", settings, MIGRATIONS)
    objects = runtime.use_object_store(settings.s3)
    changes = JobChanges(WatchedJobs(runtime.unit_of_work))  # for the job event streams
    register_consumers(runtime.consumers, changes)
    runtime.on_started.append(changes.start)
    runtime.on_stopping.append(changes.stop)
    runtime.samplers.append(WaitingJobs(runtime.unit_of_work).sample)
    app = FastAPI(
        title="Forced-alignment platform API",
        version="1.0.0",
        description="Upload speech and its transcript; download word and phone timings.",
    )
    rpc = RpcClient(
        settings.amqp_url.get_secret_value(),
        runtime.topology,
        settings.rpc_timeout_seconds,
        owner="gateway",
    )
    runtime.on_starting.append(rpc.start)
    runtime.on_stopping.append(rpc.stop)
    runtime.readiness["rpc"] = rpc.ready_check
    app.state.rpc = rpc
    app.state.token_verifier = AccessTokenVerifier(
        settings.public_keys(), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )

    async def verify_key(request: VerifyApiKey) -> ApiKeyOwner:
        return await rpc.call(request, ApiKeyOwner)

    app.state.api_keys = ApiKeyVerifier(verify_key, settings.api_key_cache_seconds)
    app.state.stream_tokens = StreamTokens(
        settings.stream_secret(), timedelta(seconds=settings.stream_token_ttl_seconds)
    )
    app.state.objects = objects
    app.state.rate_limits = RateLimits(settings.rate_limits)
    app.state.busy_retry_after = settings.busy_retry_after_seconds
    app.state.recent_quotas = RecentQuotaReports(settings.quota_report_max_age_seconds)
    app.state.unit_of_work = runtime.unit_of_work
    app.state.job_changes = changes
    app.state.engine_catalog = EngineCatalog(
        runtime.unit_of_work, settings.engine_catalog_max_age_seconds
    )
    app.state.upload_limits = UploadLimits(
        max_file_bytes=settings.max_file_bytes,
        max_request_bytes=settings.max_request_bytes,
        max_files_per_field=settings.max_files_per_job,
        max_corpus_bytes=settings.max_corpus_bytes,
        max_corpus_entries=settings.max_corpus_entries,
        max_compression_ratio=settings.max_compression_ratio,
    )
    install_error_handlers(app)
    app.add_middleware(DrainUnreadBody)
    allow_origins(app, settings.cors_origins)
    routers = (
        auth.router,
        users.router,
        api_keys.router,
        alignment.router,
        events.router,
        webhooks.router,
        discovery.router,
    )
    for router in routers:
        app.include_router(router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    return runtime, app


def main(argv: list[str] | None = None) -> None:
    """Serve; or ``python -m gateway_service dead-letters ...`` (see servicekit.dead_letters)."""
    argv = sys.argv[1:] if argv is None else argv
    runtime, app = build()
    if argv[:1] == ["dead-letters"]:
        sys.exit(run_dead_letters(runtime, argv[1:]))
    runtime.run(app)
