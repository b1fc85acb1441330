"""Outages as clients see them: every service reaches MariaDB and RabbitMQ through a proxy
the test cuts. While a part is away each request answers within 3 s (503 with Retry-After
where it needs that part, 200 where it does not), readiness says so, the first requests
after it returns succeed within 5 s, and no job is lost, doubled or charged an attempt."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import httpx
import pytest

from devstack import Stack
from devstack.faults import CuttableProxy
from devstack.testing import Infrastructure, isolated_stack_config, running_stack
from tests.e2e.helpers import (
    EVAL,
    eval_pair,
    new_user,
    object_keys,
    query,
    submit,
    wait_for,
)

pytestmark = pytest.mark.e2e

CUT_SECONDS = 20
ANSWER_WITHIN = 3.0
RECOVER_WITHIN = 5.0
PASSWORD = "correct horse battery"


class Outages:
    def __init__(self, stack: Stack, database: CuttableProxy, broker: CuttableProxy) -> None:
        self.stack, self.database, self.broker = stack, database, broker


@pytest.fixture(scope="module")
def outages(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Outages]:
    mysql = urlsplit(infrastructure.mysql_admin_url)
    amqp = urlsplit(infrastructure.amqp_url)
    database = CuttableProxy(mysql.hostname or "127.0.0.1", mysql.port or 3306).start()
    broker = CuttableProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672).start()
    config = isolated_stack_config(infrastructure, Path(tmp_path_factory.mktemp("outages")))
    # The test logs the same user in every second or so.
    config.extra_env["gateway"]["GATEWAY_RATE_LIMITS__LOGIN_PER_EMAIL"] = "10000/minute"
    config.service_mysql_address = f"127.0.0.1:{database.port}"
    config.service_amqp_url = amqp._replace(
        netloc=f"{amqp.username}:{amqp.password}@127.0.0.1:{broker.port}"
    ).geturl()
    try:
        with running_stack(config) as stack:
            yield Outages(stack, database, broker)
    finally:
        database.close()
        broker.close()


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def login(stack: Stack, email: str) -> httpx.Response:
    return httpx.post(
        stack.url("gateway") + "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        timeout=30,
    )


def assert_unavailable(response: httpx.Response, seconds: float, what: str) -> None:
    assert seconds < ANSWER_WITHIN, f"{what} took {seconds:.1f} s"
    assert response.status_code == 503, f"{what}: {response.status_code} {response.text}"
    assert response.json()["error"]["code"] == "service_unavailable", what
    assert int(response.headers["retry-after"]) > 0, what


def recovered_within(call: Callable[[], httpx.Response], expected: int) -> float:
    """Seconds until ``call`` first answers ``expected`` (asked every 0.2 s)."""
    started = time.monotonic()
    while True:
        response = call()
        if response.status_code == expected:
            return time.monotonic() - started
        assert time.monotonic() - started < 30, f"still {response.status_code}: {response.text}"
        time.sleep(0.2)


def probe_while_cut(proxy: CuttableProxy, probe: Callable[[], None]) -> None:
    """Cut for CUT_SECONDS, running ``probe`` about once a second meanwhile; then restore."""
    proxy.cut()
    cut_at = time.monotonic()
    try:
        rounds = 0
        while time.monotonic() - cut_at < CUT_SECONDS:
            probe()
            rounds += 1
            time.sleep(1.0)
        assert rounds >= 3
    finally:
        proxy.restore()


def metrics_answer(stack: Stack) -> None:
    """Every service's /metrics answers 200 within ANSWER_WITHIN: its samplers are bounded."""
    services = ("gateway", "auth", "storage", "aligner", "janitor", "notifier")
    with ThreadPoolExecutor(len(services)) as pool:
        scrapes = pool.map(
            lambda service: timed(lambda: httpx.get(stack.url(service) + "/metrics")), services
        )
        for service, (scraped, seconds) in zip(services, scrapes, strict=True):
            assert scraped.status_code == 200 and seconds < ANSWER_WITHIN, (service, seconds)


def one_pair() -> tuple[str, bytes, str, bytes]:
    return eval_pair("timit/dr4-falr0_sx65")


def ready(stack: Stack) -> int:
    return httpx.get(stack.url("gateway") + "/readyz", timeout=5).status_code


def test_a_broker_outage_answers_503_at_once_and_keeps_reads_working(outages: Outages) -> None:
    stack = outages.stack
    user = new_user(stack)
    done = submit(user, one_pair())
    assert done.status_code == 202, done.text
    read_job = done.json()["id"]
    assert wait_for(user, read_job)["status"] == "COMPLETED"
    waiting = submit(user, one_pair())  # its JobSubmitted may still be in the outbox
    assert waiting.status_code == 202, waiting.text

    def while_away() -> None:
        assert_unavailable(*timed(lambda: login(stack, user.email)), "login")
        assert_unavailable(*timed(lambda: submit(user, one_pair())), "submit")
        read, seconds = timed(lambda: user.client.get(f"/alignment/{read_job}"))
        assert read.status_code == 200 and seconds < ANSWER_WITHIN, (read.text, seconds)
        assert ready(stack) == 503
        metrics_answer(stack)  # its queue sampling goes over the broker

    probe_while_cut(outages.broker, while_away)

    assert recovered_within(lambda: login(stack, user.email), 200) < RECOVER_WITHIN
    assert (
        recovered_within(lambda: httpx.get(stack.url("gateway") + "/readyz"), 200) < RECOVER_WITHIN
    )
    after = submit(user, one_pair())
    assert after.status_code == 202, after.text
    for job_id in (waiting.json()["id"], after.json()["id"]):
        assert wait_for(user, job_id, timeout=120)["status"] == "COMPLETED"


def test_a_database_outage_answers_503_at_once(outages: Outages) -> None:
    stack = outages.stack
    user = new_user(stack)
    done = submit(user, one_pair())
    assert done.status_code == 202, done.text
    job_id = done.json()["id"]
    assert wait_for(user, job_id)["status"] == "COMPLETED"

    def while_away() -> None:
        assert_unavailable(*timed(lambda: login(stack, user.email)), "login")
        assert_unavailable(*timed(lambda: submit(user, one_pair())), "submit")
        assert_unavailable(*timed(lambda: user.client.get(f"/alignment/{job_id}")), "read")
        assert ready(stack) == 503
        metrics_answer(stack)  # its outbox sampling reads the database

    probe_while_cut(outages.database, while_away)

    assert recovered_within(lambda: login(stack, user.email), 200) < RECOVER_WITHIN
    assert recovered_within(lambda: user.client.get(f"/alignment/{job_id}"), 200) < RECOVER_WITHIN
    after = submit(user, one_pair())
    assert after.status_code == 202, after.text
    assert wait_for(user, after.json()["id"], timeout=120)["status"] == "COMPLETED"


def test_two_broker_blips_during_a_job_cost_it_no_attempt(outages: Outages) -> None:
    stack = outages.stack
    user = new_user(stack)
    names = sorted(
        p.with_suffix("").relative_to(EVAL).as_posix() for p in (EVAL / "timit").glob("*.wav")
    )
    response = submit(user, *(eval_pair(name) for name in names))
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    wait_for(user, job_id, timeout=120, done={"PROCESSING"})
    for _ in range(2):
        job = user.client.get(f"/alignment/{job_id}").json()
        assert job["status"] == "PROCESSING", "the job ended before the blip"
        outages.broker.cut()
        time.sleep(2.0)
        outages.broker.restore()
        time.sleep(2.0)

    job = wait_for(user, job_id, timeout=300)
    assert job["status"] == "COMPLETED", job
    assert all(f["status"] == "ALIGNED" for f in job["files"])
    [(status,)] = query(
        stack, "aligner", "SELECT status FROM alignment_runs WHERE job_id = %s", job_id
    )
    assert status == "COMPLETED"
    attempts = query(
        stack, "aligner", "SELECT attempts FROM alignment_files WHERE job_id = %s", job_id
    )
    assert attempts == [(1,)] * len(names), "a blip cost a file an attempt"
    done = query(
        stack,
        "aligner",
        "SELECT COUNT(*) FROM outbox WHERE routing_key = 'alignment.done.v1' AND body LIKE %s",
        f'%"job_id":"{job_id}"%',
    )
    assert done == [(1,)], "one AlignmentDone"


async def _publish(stack: Stack, routing_key: str, body: bytes) -> None:
    connection = await aio_pika.connect(stack.config.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(f"{stack.config.namespace}.alignment.events")
        await exchange.publish(
            aio_pika.Message(body, content_type="application/json"), routing_key=routing_key
        )


async def _dead_letters(stack: Stack, queue: str) -> list[bytes]:
    connection = await aio_pika.connect(stack.config.amqp_url)
    bodies: list[bytes] = []
    async with connection:
        channel = await connection.channel()
        dead = await channel.get_queue(f"{stack.config.namespace}.{queue}.dead")
        taken = []  # held unacknowledged until the end, then put back
        while (message := await dead.get(fail=False)) is not None:
            taken.append(message)
        for message in taken:
            bodies.append(message.body)
            await message.nack(requeue=True)
    return bodies


def test_bad_messages_are_dead_lettered_and_the_next_job_runs(outages: Outages) -> None:
    """Bytes that are not JSON on the queues of storage (JobSubmitted) and the aligner
    (FilesStored), and a FilesStored whose engine no column could hold."""
    import asyncio

    stack = outages.stack
    user = new_user(stack)
    first = submit(user, one_pair())
    assert first.status_code == 202, first.text
    assert wait_for(user, first.json()["id"])["status"] == "COMPLETED"
    [(body,)] = [
        (b,)
        for (b,) in query(
            stack, "storage", "SELECT body FROM outbox WHERE routing_key = 'files.stored.v1'"
        )
        if json.loads(b)["payload"]["user_id"] == user.id
    ]
    poison = json.loads(body)
    poison["event_id"] = str(uuid.uuid4())
    poison["payload"]["engine"] = "e" * 80
    not_json = b"\x00\xff not json"

    async def send() -> None:
        for _ in range(2):  # two each: a consumer with prefetch 1 would stall on the first
            await _publish(stack, "files.stored.v1", not_json)
            await _publish(stack, "job.submitted.v1", not_json)
        await _publish(stack, "files.stored.v1", json.dumps(poison).encode())

    asyncio.run(send())
    after = submit(user, one_pair())
    assert after.status_code == 202, after.text
    assert wait_for(user, after.json()["id"], timeout=60)["status"] == "COMPLETED"

    aligner_dead = asyncio.run(_dead_letters(stack, "aligner.files.stored.v1"))
    assert aligner_dead.count(not_json) == 2
    assert any(poison["event_id"].encode() in b for b in aligner_dead)
    assert asyncio.run(_dead_letters(stack, "storage.job.submitted.v1")).count(not_json) == 2


def test_with_auth_down_what_needs_it_answers_503_within_3_s(outages: Outages) -> None:
    stack = outages.stack
    user = new_user(stack)
    done = submit(user, one_pair())
    assert done.status_code == 202, done.text
    job_id = done.json()["id"]
    key = user.client.post("/api-keys", json={"name": "script", "scope": "read"})
    assert key.status_code == 201, key.text
    by_key = httpx.Client(
        base_url=stack.url("gateway") + "/api/v1", headers={"X-API-Key": key.json()["key"]}
    )
    stack.stop_service("auth", kill=True)
    try:
        # A key not seen yet is checked with auth: 503 while it is away, not a 401.
        assert_unavailable(*timed(lambda: by_key.get("/alignment/")), "an API key's request")
        assert_unavailable(*timed(lambda: login(stack, user.email)), "login")
        assert_unavailable(*timed(lambda: submit(user, one_pair())), "submit")
        assert_unavailable(*timed(lambda: user.client.get("/users/quota")), "quota")
        read, seconds = timed(lambda: user.client.get(f"/alignment/{job_id}"))
        assert read.status_code == 200 and seconds < ANSWER_WITHIN, (read.text, seconds)
    finally:
        stack.start_service("auth")
        stack.wait_ready(("auth",))
    assert login(stack, user.email).status_code == 200
    assert by_key.get("/alignment/").status_code == 200
    assert wait_for(user, job_id)["status"] == "COMPLETED"


def test_with_the_notifier_down_webhooks_answer_503_and_a_callback_submit_leaves_nothing(
    outages: Outages,
) -> None:
    stack = outages.stack
    user = new_user(stack)
    stack.stop_service("notifier", kill=True)
    try:
        assert_unavailable(*timed(lambda: user.client.get("/webhooks")), "list webhooks")
        hook = {"url": "http://127.0.0.1:9/hook", "events": ["job.completed"]}
        assert_unavailable(*timed(lambda: user.client.post("/webhooks", json=hook)), "webhook")
        callback = {"callback_url": "http://127.0.0.1:9/job"}
        assert_unavailable(*timed(lambda: submit(user, one_pair(), **callback)), "callback")
        assert user.client.get("/alignment/").json()["items"] == []
        assert object_keys(stack, f"incoming/{user.id}/") == []
        plain = submit(user, one_pair())  # no callback: the notifier is not needed
        assert plain.status_code == 202, plain.text
    finally:
        stack.start_service("notifier")
        stack.wait_ready(("notifier",))
    assert wait_for(user, plain.json()["id"])["status"] == "COMPLETED"
    assert user.client.get("/webhooks").status_code == 200
