"""Wires the notifier: the job-finished consumer, the webhook RPCs and the sender loop."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from notifier_service.adapters.http import WebhookClient, resolve_host
from notifier_service.entrypoints.events import register_consumers
from notifier_service.entrypoints.rpc import register_rpc
from notifier_service.service_layer.retention import DeliveryPruner
from notifier_service.service_layer.sender import Sender
from notifier_service.service_layer.webhooks import Webhooks
from notifier_service.settings import NotifierSettings
from servicekit import ServiceRuntime, get_logger
from servicekit.dead_letters import run_dead_letters

__all__ = ["build", "main"]

MIGRATIONS = Path(__file__).parent / "migrations"

log = get_logger(__name__)


def build(settings: NotifierSettings | None = None) -> tuple[ServiceRuntime, Sender]:
    settings = settings or NotifierSettings()  # type: ignore[call-arg]
    runtime = ServiceRuntime("notifier", settings, MIGRATIONS)
    policy = settings.policy
    sender = Sender(
        runtime.unit_of_work,
        WebhookClient(policy, settings.timeout_seconds, settings.concurrency),
        settings.retries,
        timeout_seconds=settings.timeout_seconds,
        concurrency=settings.concurrency,
        per_webhook=settings.per_webhook_concurrency,
        poll_seconds=settings.poll_seconds,
    )
    webhooks = Webhooks(
        runtime.unit_of_work,
        policy,
        resolve_host,
        previous_secret_for=timedelta(hours=settings.previous_secret_hours),
    )
    register_consumers(runtime.consumers, sender.kick)
    register_rpc(runtime, webhooks)
    pruner = DeliveryPruner(runtime.unit_of_work, timedelta(days=settings.keep_deliveries_days))
    runtime.on_started.extend([sender.start, pruner.start])
    runtime.on_stopping.extend([sender.stop, pruner.stop])
    if policy.allowed:
        log.info("webhook.allow_list", networks=[str(n) for n in policy.allowed])
    return runtime, sender


def main(argv: list[str] | None = None) -> None:
    """Serve; or ``notifier dead-letters ...`` (see servicekit.dead_letters)."""
    argv = sys.argv[1:] if argv is None else argv
    runtime, _ = build()
    if argv[:1] == ["dead-letters"]:
        sys.exit(run_dead_letters(runtime, argv[1:]))
    runtime.run()
