"""Deliveries on a real MariaDB: a finished job becomes one delivery per listening webhook,
a sender leases what is due (never more than its per-webhook share), records attempts,
retries on the schedule and gives up at the end of the window; the sender loop against a
receiver that fails first."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, timedelta

import pytest
from aiohttp import web

from contracts.notifications import JobFinished, JobView, WebhookEventType
from notifier_service.adapters.http import WebhookClient, resolve_host
from notifier_service.adapters.repository import DeliveryRepository, WebhookRepository
from notifier_service.domain.addresses import (
    AddressPolicy,
    InvalidUrl,
    UrlNotAllowed,
    parse_networks,
)
from notifier_service.domain.backoff import RetrySchedule
from notifier_service.domain.webhooks import DeliveryOutcome
from notifier_service.main import MIGRATIONS
from notifier_service.service_layer.retention import DeliveryPruner
from notifier_service.service_layer.sender import Sender
from notifier_service.service_layer.webhooks import Webhooks, record_deliveries
from servicekit import utc_naive_now
from servicekit.db import Database
from servicekit.migrations import upgrade_to_head
from servicekit.outbox import UnitOfWork

pytestmark = pytest.mark.integration

LOOPBACK = AddressPolicy(parse_networks(["127.0.0.0/8", "::1/128"]))


@pytest.fixture
async def db(scratch_schema_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS, scratch_schema_url)
    database = Database(scratch_schema_url)
    yield database
    await database.dispose()


def finished(user_id: uuid.UUID, job_id: uuid.UUID | None = None) -> JobFinished:
    job_id = job_id or uuid.uuid4()
    now = utc_naive_now().replace(tzinfo=UTC)
    view = JobView(
        id=job_id, status="COMPLETED", progress=100, created_at=now, updated_at=now, language="en"
    )
    return JobFinished(
        job_id=job_id, user_id=user_id, event=WebhookEventType.JOB_COMPLETED, job=view
    )


async def fan_out(db: Database, event: JobFinished) -> int:
    async with UnitOfWork(db, "notifier") as uow:
        count = await record_deliveries(event, utc_naive_now().replace(tzinfo=UTC), uow)
        await uow.commit()
    return count


def webhooks(db: Database, policy: AddressPolicy = LOOPBACK) -> Webhooks:
    return Webhooks(lambda: UnitOfWork(db, "notifier"), policy, resolve_host)


async def test_leases_limits_retries_and_giving_up(db: Database) -> None:
    user = uuid.uuid4()
    hook = await webhooks(db).register(user, "http://127.0.0.1:9/a", list(WebhookEventType))
    await webhooks(db).register(uuid.uuid4(), "http://127.0.0.1:9/b", list(WebhookEventType))
    for _ in range(3):
        assert await fan_out(db, finished(user)) == 1  # the other user's webhook hears none

    now = utc_naive_now()
    async with UnitOfWork(db, "notifier") as uow:
        taken = await DeliveryRepository(uow.session).take_due(
            now, 10, timedelta(minutes=1), {}, per_webhook=2
        )
        await uow.commit()
    assert len(taken) == 2  # two to one webhook at a time
    assert all(t.secrets == (hook.secret,) for t in taken)
    async with UnitOfWork(db, "notifier") as uow:
        again = await DeliveryRepository(uow.session).take_due(
            now, 10, timedelta(minutes=1), {hook.id: 0}, per_webhook=2
        )
        await uow.commit()
    assert [d.id for d in again] != [] and not {d.id for d in again} & {t.id for t in taken}

    schedule = RetrySchedule(timedelta(seconds=1), timedelta(seconds=4), timedelta(seconds=5))
    first = taken[0]
    async with UnitOfWork(db, "notifier") as uow:
        repository = DeliveryRepository(uow.session)
        retry_at = schedule.next_attempt(1, now, now)
        await repository.record(first.id, DeliveryOutcome(503), now, retry_at)
        await repository.record(taken[1].id, DeliveryOutcome(200), now, None)
        gave_up = schedule.next_attempt(9, now, now + timedelta(seconds=5))
        assert gave_up is None
        await repository.record(again[0].id, DeliveryOutcome(None, "timeout"), now, gave_up)
        await uow.commit()
    listed = {d.id: d for d in await webhooks(db).deliveries(user, hook.id, 50)}
    assert (listed[first.id].status, listed[first.id].attempts) == ("pending", 1)
    assert listed[first.id].last_status_code == 503 and listed[first.id].next_attempt_at
    assert (listed[taken[1].id].status, listed[taken[1].id].last_status_code) == ("delivered", 200)
    assert (listed[again[0].id].status, listed[again[0].id].last_error) == ("failed", "timeout")
    assert listed[again[0].id].next_attempt_at is None

    async with UnitOfWork(db, "notifier") as uow:
        await WebhookRepository(uow.session).forget_user(user)
        await uow.commit()
    assert await webhooks(db).of_user(user) == []


async def test_a_callback_hears_only_its_job_and_private_urls_are_refused(db: Database) -> None:
    user, job = uuid.uuid4(), uuid.uuid4()
    callback = await webhooks(db).register(
        user, "http://127.0.0.1:9/cb", list(WebhookEventType), job
    )
    assert callback.job_id == job
    assert await fan_out(db, finished(user)) == 0
    assert await fan_out(db, finished(user, job)) == 1
    with pytest.raises(UrlNotAllowed):
        await webhooks(db, AddressPolicy()).register(user, "http://127.0.0.1:9/x", [])
    with pytest.raises(UrlNotAllowed):
        await webhooks(db).register(user, "http://10.0.0.1/x", list(WebhookEventType))
    with pytest.raises(InvalidUrl):
        await webhooks(db).register(user, "http://" + "a" * 70 + ".org/x", [])


async def test_the_sender_retries_with_the_same_id_until_a_2xx(db: Database) -> None:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers["webhook-id"])
        return web.Response(status=500 if len(seen) <= 2 else 204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    user = uuid.uuid4()
    hook = await webhooks(db).register(
        user, f"http://127.0.0.1:{port}/hook", list(WebhookEventType)
    )
    sender = Sender(
        lambda: UnitOfWork(db, "notifier"),
        WebhookClient(LOOPBACK, 2.0, 4),
        RetrySchedule(timedelta(seconds=0.1), timedelta(seconds=1), timedelta(minutes=1)),
        timeout_seconds=2.0,
        poll_seconds=0.05,
    )
    await sender.start()
    try:
        await fan_out(db, finished(user))
        sender.kick()
        for _ in range(100):
            if len(seen) >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        await sender.stop()
        await runner.cleanup()
    assert len(seen) == 3 and len(set(seen)) == 1
    (delivery,) = await webhooks(db).deliveries(user, hook.id, 10)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 204)


async def test_old_finished_deliveries_and_spent_callbacks_are_pruned(db: Database) -> None:
    user, job = uuid.uuid4(), uuid.uuid4()
    hook = await webhooks(db).register(user, "http://127.0.0.1:9/a", list(WebhookEventType))
    callback = await webhooks(db).register(
        user, "http://127.0.0.1:9/cb", list(WebhookEventType), job
    )
    await fan_out(db, finished(user, job))  # one delivery to each
    await fan_out(db, finished(user))  # one more to the webhook, left pending
    listed = await webhooks(db).deliveries(user, hook.id, 10)
    pending = {d.id for d in listed}
    (cb_delivery,) = await webhooks(db).deliveries(user, callback.id, 10)
    now = utc_naive_now()
    async with UnitOfWork(db, "notifier") as uow:
        repository = DeliveryRepository(uow.session)
        await repository.record(listed[0].id, DeliveryOutcome(200), now, None)
        await repository.record(cb_delivery.id, DeliveryOutcome(200), now, None)
        await uow.commit()

    keep = DeliveryPruner(lambda: UnitOfWork(db, "notifier"), timedelta(days=30))
    assert await keep.prune() == (0, 0)  # nothing is old enough yet
    everything = DeliveryPruner(lambda: UnitOfWork(db, "notifier"), timedelta(seconds=-1))
    assert await everything.prune() == (2, 1)  # the finished ones, then the spent callback
    assert [h.id for h in await webhooks(db).of_user(user)] == [hook.id]
    left = await webhooks(db).deliveries(user, hook.id, 10)
    assert [d.id for d in left] == list(pending - {listed[0].id})


async def test_the_client_connects_only_to_allowed_addresses() -> None:
    """A name is checked after resolution (what aiohttp connects to), an address at once."""
    hits: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/{name}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    strict, loopback = WebhookClient(AddressPolicy(), 2.0, 4), WebhookClient(LOOPBACK, 2.0, 4)
    await strict.start()
    await loopback.start()
    try:
        for url in (f"http://localhost:{port}/a", f"http://127.0.0.1:{port}/b"):
            refused = await strict.send(url, "{}", {})
            assert refused.status_code is None and (refused.error or "").startswith("refused")
        assert (await loopback.send(f"http://localhost:{port}/c", "{}", {})).delivered
        assert (await loopback.send(f"http://127.0.0.1:{port}/d", "{}", {})).delivered
    finally:
        await strict.stop()
        await loopback.stop()
        await runner.cleanup()
    assert hits == ["/c", "/d"]
