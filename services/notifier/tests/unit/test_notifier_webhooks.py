"""Who hears of a finished job, and the body a delivery carries."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from contracts.notifications import JobFinished, JobView, WebhookEventType
from notifier_service.domain.webhooks import DeliveryOutcome, Webhook, pick_due, subscribers

NOW = datetime(2026, 11, 30, 12, 0, 0)
USER, OTHER, JOB = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def finished(event: WebhookEventType = WebhookEventType.JOB_COMPLETED) -> JobFinished:
    view = JobView(
        id=JOB,
        status="COMPLETED",
        progress=100,
        created_at=NOW.replace(tzinfo=UTC),
        updated_at=NOW.replace(tzinfo=UTC),
        language="en",
    )
    return JobFinished(job_id=JOB, user_id=USER, event=event, job=view)


def hook(
    user: uuid.UUID = USER, events: list[WebhookEventType] | None = None, **kw: object
) -> Webhook:
    return Webhook(
        id=uuid.uuid4(),
        user_id=user,
        url="https://example.org/h",
        events=events if events is not None else list(WebhookEventType),
        created_at=NOW,
        secret="whsec_" + "A" * 32,
        **kw,  # type: ignore[arg-type]
    )


def test_the_owners_subscribed_webhooks_and_the_jobs_callback_hear_of_it() -> None:
    everything = hook()
    failures_only = hook(events=[WebhookEventType.JOB_FAILED])
    someone_else = hook(user=OTHER)
    callback = hook(job_id=JOB)
    other_callback = hook(job_id=uuid.uuid4())
    hooks = [everything, failures_only, someone_else, callback, other_callback]
    deliveries = subscribers(hooks, finished(), NOW.replace(tzinfo=UTC))
    assert [d.webhook_id for d in deliveries] == [everything.id, callback.id]
    assert len({d.id for d in deliveries}) == 2
    assert all(d.id.startswith("msg_") for d in deliveries)


def test_the_body_is_type_timestamp_and_the_job_view() -> None:
    (delivery,) = subscribers([hook()], finished(), NOW.replace(tzinfo=UTC))
    body = json.loads(delivery.body)
    assert body["type"] == "job.completed"
    assert body["timestamp"] == "2026-11-30T12:00:00Z"
    assert body["data"]["id"] == str(JOB)
    assert body["data"]["status"] == "COMPLETED"


def test_a_rotated_secret_signs_beside_the_new_one_for_a_while() -> None:
    webhook = hook(previous_secret="whsec_old", previous_secret_until=NOW + timedelta(hours=1))
    assert webhook.signing_secrets(NOW) == [webhook.secret, "whsec_old"]
    assert webhook.signing_secrets(NOW + timedelta(hours=2)) == [webhook.secret]


def test_only_2xx_is_delivered() -> None:
    assert DeliveryOutcome(200).delivered and DeliveryOutcome(204).delivered
    assert not DeliveryOutcome(301).delivered
    assert not DeliveryOutcome(500).delivered
    assert not DeliveryOutcome(None, "timeout").delivered


def test_one_slow_webhook_never_takes_every_slot() -> None:
    slow, other = uuid.uuid4(), uuid.uuid4()
    due = [(f"s{i}", slow) for i in range(10)] + [("o1", other), ("o2", other), ("o3", other)]
    assert pick_due(due, {}, per_webhook=2, limit=16) == ["s0", "s1", "o1", "o2"]
    assert pick_due(due, {slow: 2}, per_webhook=2, limit=16) == ["o1", "o2"]
    assert pick_due(due, {slow: 1, other: 2}, per_webhook=2, limit=16) == ["s0"]
    assert pick_due(due, {}, per_webhook=2, limit=3) == ["s0", "s1", "o1"]
    assert pick_due([], {}, per_webhook=2, limit=3) == []
